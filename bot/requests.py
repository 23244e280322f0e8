"""Temporary: the coordinator rewrites imports to bot.usecases.* and deletes this."""

from bot.domain.channels import METHOD_LABELS
from bot.usecases.actors import SYSTEM, Actor
from bot.usecases.inputs import (
    BulkResult,
    CustomerLookup,
    Method,
    RequestCreate,
    RequestDetail,
    RequestEdit,
    ReviewType,
)
from bot.usecases.review_ops import ReviewOps

__all__ = [
    "METHOD_LABELS",
    "SYSTEM",
    "Actor",
    "BulkResult",
    "CustomerLookup",
    "Method",
    "RequestCreate",
    "RequestDetail",
    "RequestEdit",
    "ReviewOps",
    "ReviewType",
]
