"""The merchant's pages: the store page inside the admin, its tables, the storefront snippet."""
