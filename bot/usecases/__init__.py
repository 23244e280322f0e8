"""Use-cases: what reviewops does, by job; used by Slack, the CLI and the scheduler."""
