"""Conversions out: the outbox (claims, attempts, retries) and the forwarder that signs and sends them."""
