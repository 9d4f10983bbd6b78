"""Ingest context: what the MQTT bridge hands to the database, and how it is written."""
