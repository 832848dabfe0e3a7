"""Alerts an operator cannot miss: what is wrong found in the database (conditions), each raised once as an
ERROR line saying what to do and a row /metrics counts, and told to CONNECTOR_ALERT_URL as a signed notice."""
