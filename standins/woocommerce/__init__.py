"""standins/woocommerce."""
