"""The Shopify stand-in: one local server playing many shops (store.py), and sample deliveries (samples.py)."""
