"""A history filter in SQL: its conditions on review_request, each with a named parameter.

Every set field of a `HistoryFilter` is one condition whose value is a named parameter, so the
SQL of a list page and of its counts depends only on which fields are set (its shape). The hot
statements are built once per shape (`where_of`, cached) and executed with the filter's values
(`filter_params`): a `/reviews list` no longer builds its expressions and cache keys anew. A
free-text search is added per read, because its SQL depends on the text and the plan hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam
from sqlmodel import col

from store.models import ReviewRequest
from store.search import PlanHints, Search, TextSearch, Unindexed


@dataclass(frozen=True)
class HistoryFilter:
    """What the team wants to see of the history; every field narrows it."""

    statuses: frozenset[str] = frozenset()
    channel: str | None = None  # sms, whatsapp, email: the requests that went by it
    created_by: str | None = None
    review_type: str | None = None
    reference: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    sent_from: datetime | None = None
    sent_to: datetime | None = None  # exclusive
    text: str | None = None  # name, email or phone: prefix or substring
    # The text read as a phone number (bot.domain.contacts.phone_search, workspace region):
    phone: str | None = None  # the whole number in E.164
    phone_prefix: str | None = None  # the start of one ("06 10" in FR is "+33610")
    contact_id: int | None = None
    import_id: int | None = None  # the CSV import the requests came from

    def search(self) -> Search | None:
        """The free-text part of the filter, if any."""
        return Search.of(self.text, self.phone, self.phone_prefix)


# A request's channel column names every channel it went by ("sms+email" is both).
CHANNEL_VALUES: dict[str, tuple[str, ...]] = {
    "sms": ("sms", "sms+email"),
    "whatsapp": ("whatsapp",),
    "email": ("email", "sms+email"),
}
# A request is always created before it is sent; the margin only absorbs clock skew between
# workers. It bounds created_at from a sent date, so a sent range walks the created index.
SENT_AFTER_CREATED_SLACK = timedelta(days=1)

_EQUAL_TO = ("created_by", "review_type", "reference")  # a text field: the column equals it
_IDENTIFIED_BY = ("import_id", "contact_id")  # an id field: the column equals it, 0 included


def filter_params(workspace_id: int, f: HistoryFilter) -> dict[str, Any]:
    """The filter's values by the names its conditions bind (`where_of(frozenset(params))`)."""
    params: dict[str, Any] = {"workspace_id": workspace_id}
    if f.statuses:
        params["statuses"] = sorted(f.statuses)
    if f.channel:
        params["channels"] = list(CHANNEL_VALUES.get(f.channel, (f.channel,)))
    for name in (*_EQUAL_TO, "created_from", "created_to", "sent_from", "sent_to"):
        if value := getattr(f, name):
            params[name] = value
    if f.sent_to and (f.created_to is None or f.created_to > f.sent_to + SENT_AFTER_CREATED_SLACK):
        params["created_before_sent"] = f.sent_to + SENT_AFTER_CREATED_SLACK
    for name in _IDENTIFIED_BY:
        if (value := getattr(f, name)) is not None:
            params[name] = value
    return params


@lru_cache(maxsize=256)
def where_of(
    names: frozenset[str], *, unindexed_workspace: bool = False, sent_many: bool = False
) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a filter with these parameters set (`filter_params`), values unbound.

    `unindexed_workspace` and `sent_many` are the plan hints (`PlanHints`) that change the SQL.
    """
    r = ReviewRequest
    # Given the few ids a text matches, SQLite must read them by id: without statistics
    # (no ANALYZE) it would rather walk the workspace's whole created_at index.
    workspace: Any = Unindexed(r.workspace_id) if unindexed_workspace else col(r.workspace_id)
    where: list[ColumnElement[bool]] = [
        workspace == bindparam("workspace_id"),
        col(r.deleted_at).is_(None),
    ]
    if "statuses" in names:
        where.append(col(r.status).in_(bindparam("statuses", expanding=True)))
    if "channels" in names:
        where.append(col(r.channel).in_(bindparam("channels", expanding=True)))
    for name in (*_EQUAL_TO, *_IDENTIFIED_BY):
        if name in names:
            where.append(getattr(r, name) == bindparam(name))
    if "created_from" in names:
        where.append(col(r.created_at) >= bindparam("created_from"))
    if "created_to" in names:
        where.append(col(r.created_at) < bindparam("created_to"))
    # With many sent in the range, "+sent_at" makes SQLite walk the created_at index (bounded
    # below) rather than sort the whole range.
    sent_at: Any = Unindexed(col(r.sent_at)) if sent_many else col(r.sent_at)
    if "sent_from" in names:
        where.append(sent_at >= bindparam("sent_from"))
    if "sent_to" in names:
        where.append(sent_at < bindparam("sent_to"))
    if "created_before_sent" in names:
        where.append(col(r.created_at) < bindparam("created_before_sent"))
    return tuple(where)


def unbound_conditions(
    params: dict[str, Any], search: Search | None, hints: PlanHints
) -> tuple[ColumnElement[bool], ...]:
    """A filter's conditions with its values left to `params` (`filter_params`) and its free
    text (`HistoryFilter.search`) built here."""
    where = where_of(
        frozenset(params),
        unindexed_workspace=hints.text_ids is not None,
        sent_many=hints.sent_many,
    )
    return where if search is None else (*where, TextSearch(search, hints))


def conditions(
    workspace_id: int, f: HistoryFilter, *, hints: PlanHints | None = None
) -> list[ColumnElement[bool]]:
    """Translate a filter into SQL conditions on review_request, its values bound.

    `hints` (from `plan_hints`) picks the faster SQLite plan for a page; any hints give the
    same rows.
    """
    params = filter_params(workspace_id, f)
    unbound = unbound_conditions(params, f.search(), hints or PlanHints())
    return [c.params(params) for c in unbound]
