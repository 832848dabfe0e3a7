"""standins/shopify."""
