"""What a chaos run must leave behind, read from the outside (issue 16).

Read from the fake Twilio (what the provider received), the fake Slack (what the team sees)
and the database (what reviewops recorded). Each check returns the problems it found, in
words a person can act on; an empty list is a pass. Nothing here imports the product.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench import speedkit as kit

# bot/domain/status.py: a message in one of these is still waiting for a worker or in flight.
NOT_FINAL = frozenset({"queued", "paused", "claimed", "sending"})
# Statuses that say the provider took the message.
REACHED = frozenset({"sent", "delivered", "read", "opened", "clicked"})
LINK = re.compile(r"/r/([A-Za-z0-9_-]+)")


class StandIn(Protocol):
    def call(self, name: str, /, *args: Any) -> Any:
        """Read an attribute of the fake, or call one of its methods (bench/speedkit.py Fake)."""
        ...


@dataclass
class Findings:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, problems: list[str], limit: int = 10) -> None:
        self.problems += problems[:limit]
        if len(problems) > limit:
            self.problems.append(f"... and {len(problems) - limit} more like the above")


def check_all(url: str, twilio: StandIn, slack: StandIn, channels: list[str]) -> Findings:
    """Run every check of a drained chaos run; figures for the report, problems for the test."""
    found = Findings()
    messages = kit.rows(
        url,
        "SELECT id, request_id, token, status, provider_id, error_reason FROM message ORDER BY id",
    )
    statuses = Counter(str(m[3]) for m in messages)
    found.figures["messages"] = len(messages)
    found.figures["statuses"] = dict(sorted(statuses.items()))
    found.add(_provider(messages, twilio.call("messages"), twilio.call("accepted"), found))
    found.add(_final(messages))
    found.add(_unknowns(url, messages, found))
    found.add(_slack(url, slack, channels, found))
    errors = twilio.call("validation_errors")
    if errors:
        found.add([f"the fake Twilio refused a malformed request: {e[:200]}" for e in errors])
    return found


def _provider(
    messages: list[tuple[Any, ...]],
    creates: list[dict[str, str]],
    accepted: list[dict[str, Any]],
    found: Findings,
) -> list[str]:
    """Each message reached the provider at most once, and `sent` ones exactly once."""
    problems: list[str] = []
    per_token = Counter(m[1] for body in creates if (m := LINK.search(body.get("Body", ""))))
    sid_of = {m[1]: r["sid"] for r in accepted if (m := LINK.search(str(r.get("body") or "")))}
    ours = {str(m[2]) for m in messages}
    duplicates = {t: c for t, c in per_token.items() if c > 1}
    found.figures["provider_creates"] = len(creates)
    found.figures["duplicates"] = sum(c - 1 for c in duplicates.values())
    problems += [
        f"message with link {t} reached the provider {c} times" for t, c in duplicates.items()
    ]
    problems += [f"the provider got link {t}, which no message has" for t in set(per_token) - ours]
    if len(per_token) != len(creates):
        problems.append(f"{len(creates) - len(per_token)} provider creates carry no review link")
    in_doubt_reached = 0
    for mid, _, token, status, provider_id, _ in messages:
        times = per_token.get(str(token), 0)
        if status in REACHED and (times != 1 or provider_id != sid_of.get(str(token))):
            problems.append(
                f"message {mid} is {status} (sid {provider_id}) but the provider got it "
                f"{times} times (sid {sid_of.get(str(token))})"
            )
        if status == "unknown" and times:
            in_doubt_reached += 1
    found.figures["unknown_but_at_provider"] = in_doubt_reached
    return problems


def _final(messages: list[tuple[Any, ...]]) -> list[str]:
    return [
        f"message {mid} (request id {rid}) is still {status} after the drain"
        for mid, rid, _, status, *_ in messages
        if status in NOT_FINAL
    ]


def _unknowns(url: str, messages: list[tuple[Any, ...]], found: Findings) -> list[str]:
    """Each `unknown` has its event saying why (bot/usecases/in_doubt.py)."""
    explained: dict[int, list[str]] = defaultdict(list)
    for message_id, detail in kit.rows(
        url, "SELECT message_id, detail FROM event WHERE kind = 'unknown'"
    ):
        reason = _json(detail).get("reason")
        if reason:
            explained[int(message_id)].append(str(reason))
    reached = {int(m[0]) for m in messages if m[3] in REACHED}
    found.figures["unknown_events"] = sum(len(v) for v in explained.values())
    found.figures["unknown_resolved"] = len(set(explained) & reached)
    problems = []
    for mid, _, _, status, _, error_reason in messages:
        if status == "unknown" and not (explained.get(int(mid)) and error_reason):
            problems.append(
                f"message {mid} is unknown without its reason (events: {explained.get(mid)}, "
                f"error_reason: {error_reason!r})"
            )
        if len(explained.get(int(mid), [])) > 1:
            problems.append(f"message {mid} was given up on {len(explained[mid])} times")
    return problems


def _slack(url: str, slack: StandIn, channels: list[str], found: Findings) -> list[str]:
    """Each request's card posted once; its thread holds its replies once each, in order."""
    problems: list[str] = []
    outbox = kit.rows(
        url,
        "SELECT id, request_id, kind, channel, status, payload, last_error FROM slack_outbox "
        "ORDER BY id",
    )
    left = Counter(str(r[4]) for r in outbox if r[4] != "done")
    found.figures["slack_outbox"] = dict(Counter(str(r[2]) for r in outbox))
    problems += [f"{n} Slack outbox rows are {s} after the drain" for s, n in left.items()]
    problems += [f"outbox row {r[0]} ({r[2]}) is dead: {r[6]}" for r in outbox if r[4] == "dead"]
    roots = {ch: slack.call("messages", ch) for ch in channels}
    by_row: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for channel_roots in roots.values():
        for root in channel_roots:
            by_row[_outbox_id(root)].append(root)
    found.figures["slack_posts"] = sum(1 + len(r["replies"]) for rs in roots.values() for r in rs)
    rows_of: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in outbox:
        if row[1] is not None:
            rows_of[int(row[1])].append(row)
    cards = dict(kit.rows(url, "SELECT id, slack_ts FROM review_request"))
    for request_id, rows in rows_of.items():
        problems += _thread(request_id, rows, by_row, cards.get(request_id))
    stray = sum(len(v) for k, v in by_row.items() if k not in {r[0] for r in outbox})
    if stray:
        problems.append(f"{stray} root posts in Slack match no outbox root row")
    handed = kit.rows(
        url,
        "SELECT DISTINCT request_id FROM message WHERE status NOT IN ('queued', 'paused', 'canceled')",
    )
    problems += [f"request id {r} has no card in Slack" for (r,) in handed if not cards.get(r)]
    told = {r[1] for r in outbox if r[2] == "reply"}
    problems += [
        f"request id {r}: its thread says nothing of the send" for (r,) in handed if r not in told
    ]
    return problems


def _thread(
    request_id: int,
    rows: list[tuple[Any, ...]],
    roots_by_row: dict[int, list[dict[str, Any]]],
    card_ts: str | None,
) -> list[str]:
    root_rows = [r for r in rows if r[2] == "root"]
    if len(root_rows) != 1:
        return [f"request id {request_id} has {len(root_rows)} card rows in its outbox"]
    posts = roots_by_row.get(int(root_rows[0][0]), [])
    problems = []
    if len(posts) > 1:
        problems.append(f"request id {request_id}: its card was posted {len(posts)} times")
    cards = [p for p in posts if p["ts"] == card_ts]
    if len(cards) != 1:
        return [
            *problems,
            f"request id {request_id} remembers card {card_ts}; Slack has {len(posts)}",
        ]
    card = cards[0]
    # Alerts with no alert channel are replies too (reply_broadcast): all in one sequence.
    expected = [int(r[0]) for r in rows if r[2] == "reply"]
    got = [_outbox_id(m) for m in card["replies"]]
    said = f"request id {request_id}: thread replies {got}, expected outbox rows {expected}"
    if got != expected:
        problems.append(said)
    updates = [r for r in rows if r[2] == "update"]
    if updates and card["text"] != _json(updates[-1][5]).get("text"):
        problems.append(f"request id {request_id}: the card does not show its last update")
    return problems


def _outbox_id(message: dict[str, Any]) -> int:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return int(payload.get("outbox_id", -1))


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        import json

        return dict(json.loads(value))
    return dict(value or {})
