"""The App Home tab: published when a user opens it, and again after they send from it.

app_home_opened is an event and the buttons are clicks: each is acked before its listener
runs (handlers/errors.py); the buttons then open their modal at once, because a trigger id
lives only 3 seconds.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.usecases import history
from handlers.blocks.common import metadata
from handlers.blocks.home import (
    HOME_QUEUED,
    HOME_SEND,
    QUEUED_CAP,
    RECENT_COUNT,
    HomeData,
    home_view,
    queued_modal,
)
from handlers.blocks.send import send_modal
from handlers.errors import anywhere, refusals
from handlers.surface import Registered, Surface, services

PERIODS = (7, 30)


def read_home(surface: Surface, workspace_id: int) -> HomeData:
    """Read the stats, the waiting count and the latest requests, as /reviews stats counts them."""
    now = surface.app.clock.now()
    numbers = history.home_numbers(
        surface.app.db, workspace_id, now=now, periods=PERIODS, recent=RECENT_COUNT
    )
    timezone = surface.ops.policy(workspace_id).timezone
    return HomeData(
        now=now,
        periods=numbers.periods,
        waiting=numbers.waiting,
        recent=numbers.recent,
        timezone=timezone,
    )


def read_queued(surface: Surface, workspace_id: int) -> tuple[list[history.ReviewRequest], int]:
    """Return the newest waiting requests (at most QUEUED_CAP) and how many wait in all."""
    return history.waiting_requests(surface.app.db, workspace_id, limit=QUEUED_CAP)


def publish_home(surface: Surface, client: WebClient, workspace_id: int, user_id: str) -> None:
    """Publish a fresh Home tab to one user."""
    client.views_publish(user_id=user_id, view=home_view(read_home(surface, workspace_id)))


@refusals(anywhere)
def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Publish the Home tab for the user who opened it (a guest gets the refusal instead)."""
    # The Messages tab sends the same event: the Home view is only for the Home tab.
    if event.get("tab") != "home":
        return
    surface = services(context)
    publish_home(surface, client, surface.workspace_id(context), str(event["user"]))


@refusals(anywhere)
def send_from_home(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Open the send modal from the Home tab."""
    surface = services(context)
    policy = surface.ops.policy(surface.workspace_id(context))
    # `h` tells the send modal's submission (handlers/views.py) to refresh this Home tab.
    view = send_modal(policy, private_metadata=metadata(h=1))
    client.views_open(trigger_id=body["trigger_id"], view=view)


@refusals(anywhere)
def show_queued(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Open the modal listing what is queued or paused."""
    surface = services(context)
    ws = surface.workspace_id(context)
    rows, total = read_queued(surface, ws)
    view = queued_modal(rows, total, tz=surface.ops.policy(ws).timezone)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def register(bolt: App, registered: Registered) -> None:
    """Listen to the Home tab being opened and to its Send request and Show queued buttons."""
    bolt.event("app_home_opened")(home_opened)
    bolt.action(HOME_SEND)(send_from_home)
    bolt.action(HOME_QUEUED)(show_queued)
    registered.events.append("app_home_opened")
    registered.actions += [HOME_SEND, HOME_QUEUED]
