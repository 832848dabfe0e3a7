"""The WooCommerce stand-in: one local server playing many sites (store.py), and sample deliveries (samples.py)."""
