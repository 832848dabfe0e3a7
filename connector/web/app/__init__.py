"""The merchant app: its document (shell), its JSON routes under /admin/api, the small install pages."""
