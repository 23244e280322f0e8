"""Temporary: the coordinator rewrites imports to bot.usecases.feedback and deletes this."""

from bot.usecases.feedback import Feedback

__all__ = ["Feedback"]
