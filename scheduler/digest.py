"""The digest job: every few minutes, post each due workspace digest once, with its chart.

A workspace's digest is due once its local time passes `digest_time` (weekly: on Mondays) and
its period was not posted yet (bot/domain/digest.py). The period is taken in its own
transaction first (bot/usecases/digests.py), so two scheduler processes post it once between
them. The chart is a PNG sent with Slack's files v2 flow (bot/slack_files.py) and shared in
the channel with the message as its comment, which carries every figure; the image has alt
text. Until the share, nothing shows: a failure there (429, 5xx, network, a revoked token)
gives the period back and a later run posts it. If Slack refuses (no such channel, not in it),
or the share's answer is lost or a 5xx, it is not posted again: a digest twice is worse than
one missed. A refusal is said in the alert (else notify) channel, so someone can fix it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.charts import chart_alt_text, render_chart
from bot.slack_files import send_file, share_file
from bot.usecases.digests import Digests, DueDigest
from handlers.blocks.digest import digest_refused_text, digest_text
from scheduler.jobs import Scheduler
from scheduler.slack_errors import classify

log = logging.getLogger(__name__)

DIGEST_JOB = "digest"
DIGEST_INTERVAL_SECONDS = 300.0
T = TypeVar("T")


class NotPosted(Exception):
    """Nothing reached the channel (the chart was not shared): the period may be tried again."""


class DigestPoster:
    """Post due digests through the outbox's Slack clients; `run_once` is the job."""

    def __init__(self, digests: Digests, clients: Callable[[int], WebClient | None]) -> None:
        self.digests = digests
        self.clients = clients

    def run_once(self) -> int:
        """Post every due digest this process can take; return how many reached Slack."""
        posted = 0
        for due in self.digests.due():
            client = self.clients(due.workspace_id)
            if client is None:
                continue  # no token (yet): not taken, a later run tries again
            if not self.digests.take(due.workspace_id, due.period):
                continue  # another process has it
            where = f"digest {due.period.key} of workspace {due.workspace_id} to {due.channel}"
            try:
                file_id = self.post(client, due)
            except NotPosted as exc:
                self.digests.release(due.workspace_id, due.period)
                log.warning("%s not posted (%s): tried again at the next run", where, exc)
                continue
            except SlackApiError as exc:
                failure = classify(exc)
                log.warning(
                    "%s refused by Slack, or maybe posted (%s): not tried again",
                    where,
                    failure.error,
                )
                if failure.kind == "permanent":
                    self.tell_refused(client, due, failure.error)
                continue
            except Exception:
                # The share's answer was lost (network, 5xx): Slack may show the digest.
                log.exception("%s may not have been posted: not tried again", where)
                continue
            self.digests.posted(due.workspace_id, due.period, channel=due.channel, file_id=file_id)
            posted += 1
        return posted

    def tell_refused(self, client: WebClient, due: DueDigest, error: str) -> None:
        """Say in the alert (else notify) channel that Slack refused the digest, once a period.

        Nothing is said when that is the digest's own channel: Slack refuses it there too.
        """
        policy = due.policy
        to = policy.alert_channel or policy.notify_channel
        if not to or to == due.channel:
            return
        text = digest_refused_text(
            label=due.period.label, frequency=policy.digest, channel=due.channel, error=error
        )
        try:
            client.chat_postMessage(channel=to, text=text)
        except Exception as exc:  # noqa: BLE001 - the log line above already says it
            log.warning("the digest's refusal could not be told in %s (%s)", to, exc)

    def post(self, client: WebClient, due: DueDigest) -> str:
        """Post one digest with its chart (the text alone if the chart can't be drawn).

        Returns the file's id ("" without a chart).

        :raise NotPosted: nothing reached the channel, and Slack may take it later.
        :raise SlackApiError: Slack refused the digest (or answered 5xx to the share).
        """
        policy = due.policy
        try:
            report = self.digests.report(due.workspace_id, due.period, policy.timezone)
        except Exception as exc:
            raise NotPosted(f"the report could not be read: {type(exc).__name__}") from exc
        text = digest_text(
            report,
            label=due.period.label,
            frequency=policy.digest,
            business=policy.business_name,
            timezone=policy.timezone,
        )
        try:
            png = render_chart(
                report, title=f"Reviews: {due.period.label}", timezone=policy.timezone
            )
        except Exception:
            log.exception("digest chart of workspace %d could not be drawn", due.workspace_id)
            _not_now(
                lambda: client.chat_postMessage(channel=due.channel, text=text), answered_only=True
            )
            return ""
        file_id = _not_now(
            lambda: send_file(
                client,
                filename=f"reviews-digest-{due.period.first_day.isoformat()}.png",
                body=io.BytesIO(png),
                size=len(png),
                alt_txt=chart_alt_text(report, timezone=policy.timezone),
            )
        )
        _not_now(
            lambda: share_file(
                client,
                file_id=file_id,
                channel=due.channel,
                title=f"Reviews digest: {due.period.label}",
                initial_comment=text,
            ),
            answered_only=True,
        )
        return file_id


def _not_now(call: Callable[[], T], *, answered_only: bool = False) -> T:
    """Run a Slack call; raise NotPosted where it surely did nothing and may be tried later.

    Before the share, any failure left nothing in the channel: all but Slack's refusals are
    NotPosted. For the share (`answered_only`), only the answers that say it was not done: 429
    and Slack's own "not now" errors; a 5xx or a lost answer may hide a posted digest.
    """
    try:
        return call()
    except SlackApiError as exc:
        failure = classify(exc)
        status = int(getattr(exc.response, "status_code", 200) or 200)
        maybe_done = answered_only and failure.kind == "transient" and status >= 500
        if failure.kind == "permanent" or maybe_done:
            raise
        raise NotPosted(failure.error) from exc
    except (SlackRequestError, OSError) as exc:
        if answered_only:
            raise
        raise NotPosted(f"{type(exc).__name__}: {exc}") from exc


def register(scheduler: Scheduler, poster: DigestPoster) -> None:
    """Look for due digests every five minutes (and when the process starts)."""
    scheduler.add(DIGEST_JOB, poster.run_once, DIGEST_INTERVAL_SECONDS)
