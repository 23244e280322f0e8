"""`reviewops tokens rotate`: seal every stored bot token and secret setting (shopify_secret,
stripe_secret, events_secret) again with the first key.

Rotation: put the new key first in TOKEN_ENCRYPTION_KEYS (`new,old`) and restart every
process, run this, then drop the old key and restart again (store/installations.py).
"""

from __future__ import annotations

import typer

from bot.cli import cli, fail, opened_app
from bot.usecases.installs import installs_for
from store.installations import TokenKeyError

tokens_cli = typer.Typer(help="Installed workspaces' bot tokens, sealed at rest.")
cli.add_typer(tokens_cli, name="tokens", no_args_is_help=True)


@tokens_cli.command("rotate")
def rotate() -> None:
    """Seal every stored bot token and secret setting again with the first key of
    TOKEN_ENCRYPTION_KEYS (those stored in clear too)."""
    with opened_app() as app:
        keys = app.settings.token_keys()
        if not keys:
            fail("Set TOKEN_ENCRYPTION_KEYS (the new key first) to seal the bot tokens.")
        try:
            done = installs_for(app.ops, keys).reseal_all()
        except TokenKeyError as exc:
            fail(f"{exc} Nothing was changed.")
    typer.echo(
        f"{done.tokens} bot token(s) sealed and {done.secrets} secret setting(s) sealed "
        "with the first key of TOKEN_ENCRYPTION_KEYS."
    )
