"""Register every Slack listener on the Bolt app, one surface module at a time."""

from __future__ import annotations

from slack_bolt import App

from bot.app import ReviewOpsApp
from bot.usecases.installs import installs_for
from handlers import (
    actions,
    audit,
    bulk,
    commands,
    customer,
    customer_export,
    decisions,
    edit,
    export,
    home,
    imports,
    install_events,
    settings_view,
    views,
    workflow_step,
)
from handlers.install_events import admit_installed
from handlers.permissions import Permissions
from handlers.surface import Surface, provide_services


def register_handlers(bolt: App, app: ReviewOpsApp) -> Surface:
    """Register every Slack listener on the Bolt app; return what was registered."""
    single_team = bolt.installation_store is None  # one workspace's token, not OAuth
    surface = Surface(app, Permissions(app.ops), single_team=single_team)
    bolt.use(provide_services(surface))
    # Only installed workspaces act; the rest get a clear answer and create nothing.
    bolt.use(admit_installed(surface))
    installs = installs_for(app.ops, app.settings.token_keys())
    install_events.register(bolt, installs, surface.registered)
    commands.register(bolt, surface.registered)
    views.register(bolt, surface.registered)
    actions.register(bolt, surface.registered)
    decisions.register(bolt, surface.registered)
    edit.register(bolt, surface.registered)
    export.register(bolt, surface.registered)
    imports.register(bolt, surface.registered)
    audit.register(bolt, surface.registered)
    home.register(bolt, surface.registered)
    bulk.register(bolt, surface.registered)
    customer.register(bolt, surface.registered)
    customer_export.register(bolt, surface.registered)
    settings_view.register(bolt, surface.registered)
    workflow_step.register(bolt, surface.registered)
    return surface
