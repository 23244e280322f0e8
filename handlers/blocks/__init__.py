"""Pure Block Kit builders, one module per surface (no I/O); limits.py holds Slack's limits."""
