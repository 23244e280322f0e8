"""The Slack surface: listeners by surface, Block Kit in handlers/blocks/, wiring in registry.py."""
