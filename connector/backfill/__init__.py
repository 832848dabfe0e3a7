"""Backfills: a store's past orders read from the platform, reported (dry run) or credited oldest first, resumably."""
