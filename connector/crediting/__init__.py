"""Neutral events become conversions: orders, refunds and cancellations, browser reports, sign-ups into leads."""
