"""Raw events in: every authentic delivery stored once (the inbox), and reconciliation, which reads what webhooks missed."""
