"""`tongban purge`, `tongban export-user`, `tongban delete-user`."""

from __future__ import annotations

import json

import click

from bot.config import get_settings
from bot.privacy import delete_user, export_user, purge
from bot.storage.migrate import upgrade

CHANNEL = click.option("--channel", required=True, help="wechat, web, api or cli.")
USER_ID = click.option("--id", "external_id", required=True, help="The channel's id: openid, visitor id …")


@click.command("purge")
def purge_command() -> None:
    """Delete what the retention settings no longer allow us to keep."""
    settings = get_settings()
    upgrade(settings)
    click.echo(purge(settings).summary())


@click.command("export-user")
@CHANNEL
@USER_ID
def export_user_command(channel: str, external_id: str) -> None:
    """Print everything stored about one person as JSON (a data-subject request)."""
    click.echo(json.dumps(export_user(get_settings(), channel, external_id), ensure_ascii=False, indent=2))


@click.command("delete-user")
@CHANNEL
@USER_ID
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user_command(channel: str, external_id: str, yes: bool) -> None:
    """Erase one person's messages, cases and delivery state."""
    if not yes:
        click.confirm(f"Erase everything stored about this {channel} user?", abort=True)
    counts = delete_user(get_settings(), channel, external_id)
    click.echo("deleted " + ", ".join(f"{n} {what}" for what, n in counts.items()))
