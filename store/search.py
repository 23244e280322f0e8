"""Free-text search of the history: SQLite FTS5 trigram table, PostgreSQL pg_trgm indexes.

One `Search` compiles per database (`TextSearch`): on SQLite it reads candidate ids from the
FTS5 table and the phone index, on PostgreSQL it is ILIKE/LIKE served by the GIN trigram and
phone indexes. `PlanHints` carry what a cheap probe saw, for the planners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    column,
    or_,
    table,
    union,
)
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import col

from store.models import ReviewRequest

# FTS5 trigram and pg_trgm need three characters to use their index.
TRIGRAM_MIN = 3
_FTS = table("review_request_fts", column("rowid"), column("review_request_fts"))
# Words of names and emails with 1- and 2-character prefix indexes (migration 0003).
_WORDS = table("review_request_words", column("rowid"), column("review_request_words"))


def like_escape(text: str) -> str:
    """Escape LIKE wildcards (with backslash as the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


_PHONE_TYPED = re.compile(r"[+\d\s().\-/]+")


def _after_prefix(prefix: str) -> str:
    """Return the first string after every string that starts with `prefix` (ASCII)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass(frozen=True)
class PlanHints:
    """What a cheap look at the data says about the fastest plan for a page.

    SQLite's planner cannot tell a rare match from a common one and picks one plan for both;
    PostgreSQL's estimate for a long ILIKE is often ten times off, the wrong way.
    """

    text_ids: tuple[int, ...] | None = None  # every text match, when there are few
    text_many: bool = False  # more than PROBE_LIMIT text matches
    sent_many: bool = False  # more than PROBE_LIMIT requests in the sent range


# Up to this many matches, SQLite reads them by id and sorts them; beyond, it walks the history
# newest first and keeps the matches, which then come often enough to fill a page at once.
PROBE_LIMIT = 1000


@dataclass(frozen=True)
class Search:
    """A free-text search: the text as typed and what it means as a phone number."""

    text: str
    phone_starts: tuple[str, ...]  # E.164 starts ("+33610203040", "+33610"), read by index
    phone_digits: str | None  # the digits of a partial number, matched anywhere

    @classmethod
    def of(cls, text: str | None, phone: str | None, phone_prefix: str | None) -> Search | None:
        """Read a text, the whole E.164 number and the E.164 start it means; None: no search."""
        text = " ".join((text or "").split())
        starts = tuple(
            dict.fromkeys(p for p in (phone, phone_prefix) if p and len(p) >= TRIGRAM_MIN)
        )
        # A partial number is also looked for anywhere ("0203" is in +33610203040); a whole
        # one is found by its E.164 form.
        digits = re.sub(r"\D", "", text)
        if phone or len(digits) < TRIGRAM_MIN or not _PHONE_TYPED.fullmatch(text):
            digits = ""
        if not text and not starts:
            return None
        return cls(text, starts, digits or None)

    @property
    def long(self) -> bool:
        return len(self.text) >= TRIGRAM_MIN

    def _fts_text(self) -> str:
        # Most addresses share what follows "@": searching it would read nearly every row.
        # The part up to one character after "@" finds the candidates; `exact` checks them.
        at = self.text.find("@")
        return self.text[: at + 2] if at >= 1 else self.text

    def short_prefix(self) -> ColumnElement[bool]:
        """Match a name, a word of a name or an email starting with a short text."""
        r = ReviewRequest
        start = like_escape(self.text)
        # ILIKE: PostgreSQL's trigram indexes serve it (a pattern start counts as a word start).
        return or_(
            col(r.customer_name).ilike(f"{start}%", escape="\\"),
            col(r.customer_name).ilike(f"% {start}%", escape="\\"),
            col(r.email).ilike(f"{start}%", escape="\\"),
        )

    def exact(self, *, phone_range: bool) -> ColumnElement[bool]:
        """Match on the row itself: PostgreSQL serves it from its trigram and phone indexes."""
        r = ReviewRequest
        options: list[ColumnElement[bool]] = []
        if self.long:
            needle = f"%{like_escape(self.text)}%"
            options += [
                col(r.customer_name).ilike(needle, escape="\\"),
                col(r.email).ilike(needle, escape="\\"),
            ]
        elif self.text:
            options.append(self.short_prefix())
        for start in self.phone_starts:
            if phone_range:  # SQLite's index serves a range, not LIKE
                options.append(and_(col(r.phone) >= start, col(r.phone) < _after_prefix(start)))
            else:  # PostgreSQL's text_pattern_ops index serves LIKE 'start%'
                options.append(col(r.phone).like(like_escape(start) + "%", escape="\\"))
        if self.phone_digits:
            options.append(col(r.phone).like(f"%{self.phone_digits}%"))
        return or_(*options)

    def fts_query(self) -> str | None:
        """Return the FTS5 MATCH expression, or None when the text is too short for trigrams."""
        phrases: list[str] = []
        if self.long:
            phrases.append("{customer_name email} : " + _fts_phrase(self._fts_text()))
        if self.phone_digits:
            phrases.append("phone : " + _fts_phrase(self.phone_digits))
        return " OR ".join(phrases) if phrases else None

    def words_query(self) -> str | None:
        """Return the MATCH for a text too short for trigrams: a word of the name, or the
        email's first word, starting with it (a superset of `short_prefix`, which checks)."""
        if self.long or not self.text.isalnum():
            return None
        phrase = _fts_phrase(self.text)
        return f"{{customer_name}} : {phrase}* OR {{email}} : ^{phrase}*"

    def candidates(self, dialect: str) -> Select[Any] | CompoundSelect | None:
        """Return a query of ids that holds every match: SQLite reads FTS5 and the phone
        index (a superset, checked by `exact` where needed); elsewhere the matches themselves.
        """
        r = ReviewRequest
        if dialect != "sqlite":
            return sa_select(col(r.id)).where(self.exact(phone_range=False))
        parts: list[Select[Any]] = []
        query = self.fts_query()
        if query is not None:
            parts.append(
                sa_select(_FTS.c.rowid).where(_FTS.c.review_request_fts.op("MATCH")(query))
            )
        words = self.words_query()
        if words is not None:
            parts.append(
                sa_select(_WORDS.c.rowid).where(_WORDS.c.review_request_words.op("MATCH")(words))
            )
        for start in self.phone_starts:
            parts.append(
                sa_select(col(r.id)).where(
                    col(r.phone) >= start, col(r.phone) < _after_prefix(start)
                )
            )
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else union(*parts)

    def sqlite(self, hints: PlanHints) -> ColumnElement[bool]:
        candidates = self.candidates("sqlite")
        if candidates is None:
            return self.short_prefix()
        r = ReviewRequest
        if hints.text_ids is not None:
            found = col(r.id).in_(hints.text_ids)
        elif hints.text_many:
            # "+id" keeps SQLite from reading every match by id and sorting them: it walks
            # the created_at index and keeps the matches, which come often enough.
            found = Unindexed(col(r.id)).in_(candidates)
        else:
            found = col(r.id).in_(candidates)
        if self._fts_text() != self.text or self.words_query() is not None:
            return and_(found, self.exact(phone_range=True))
        return found


class Unindexed(ColumnElement[Any]):
    """A column SQLite must not read through an index ("+col"); as it is elsewhere."""

    inherit_cache = False

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _compile_column(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "sqlite")
def _compile_unindexed(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


class TextSearch(ColumnElement[bool]):
    """A free-text condition compiled per database: FTS5 on SQLite, trigram ILIKE elsewhere."""

    type = Boolean()
    inherit_cache = False  # the search is plain Python data, not part of a cache key
    _is_implicitly_boolean = True  # a WHERE term as it is, not "(...) = 1" on SQLite

    def __init__(self, search: Search, hints: PlanHints) -> None:
        self.search = search
        self.hints = hints


@compiles(TextSearch)
def _compile_like(element: TextSearch, compiler: SQLCompiler, **kw: Any) -> str:
    if element.hints.text_ids is not None:
        # A rare text, whose matches the probe found: read them by id. The planner's
        # estimate for a long ILIKE is too coarse to choose that itself.
        return compiler.process(col(ReviewRequest.id).in_(element.hints.text_ids), **kw)
    return compiler.process(element.search.exact(phone_range=False).self_group(), **kw)


@compiles(TextSearch, "sqlite")
def _compile_fts(element: TextSearch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.search.sqlite(element.hints).self_group(), **kw)
