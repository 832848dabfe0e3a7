"""Local stand-ins for Shopify, WooCommerce and the tracking backend, and the demo: never imported by production code."""
