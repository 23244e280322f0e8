"""Register every Slack listener on the Bolt app, one surface module at a time."""

from __future__ import annotations

from slack_bolt import App

from bot.app import ReviewOpsApp
from handlers import (
    actions,
    bulk,
    commands,
    customer,
    decisions,
    edit,
    export,
    home,
    settings_view,
    views,
)
from handlers.permissions import Permissions
from handlers.surface import Surface, provide_services


def register_handlers(bolt: App, app: ReviewOpsApp) -> Surface:
    """Register every Slack listener on the Bolt app; return what was registered."""
    surface = Surface(app, Permissions(app.ops))
    bolt.use(provide_services(surface))
    commands.register(bolt, surface.registered)
    views.register(bolt, surface.registered)
    actions.register(bolt, surface.registered)
    decisions.register(bolt, surface.registered)
    edit.register(bolt, surface.registered)
    export.register(bolt, surface.registered)
    home.register(bolt, surface.registered)
    bulk.register(bolt, surface.registered)
    customer.register(bolt, surface.registered)
    settings_view.register(bolt, surface.registered)
    return surface
