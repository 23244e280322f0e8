"""Use-cases: what reviewops does, by job; used by Slack, the CLI and the scheduler.

Every change of a status or an opt-out goes through bot.usecases.journal.
"""
