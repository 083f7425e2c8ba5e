"""Executes a plan through its ports: steps, waves, the ingest bracket, observers."""
