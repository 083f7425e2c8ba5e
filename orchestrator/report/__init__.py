"""What a run and a plan look like to people and machines: tables, JSON, Markdown, webhook."""
