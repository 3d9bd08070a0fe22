"""CLI for the console: `tongban user add|reset-password|unlock|unlock-ip` and `tongban cases export`."""

from __future__ import annotations

import datetime as dt
import sys

import click

from bot.casework.cases import ensure_region_teams
from bot.config import get_settings
from bot.console.accounts import ROLES, create_account, find_account, generate_password, set_password, unlock
from bot.console.audit import audit
from bot.console.login_guard import unlock_ip
from bot.console.reports import cases_csv
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated): from standard input, a hidden prompt on a terminal, or generated."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if sys.stdin.isatty():
        return click.prompt("密码 / password", hide_input=True, confirmation_prompt=True), False
    return generate_password(), True


@click.group("user")
def user_group() -> None:
    """Console accounts (no account and no password exist until you create them)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--team", "teams", multiple=True, help="Team key, repeatable: 12356, 12355, local, or a region's team "
              "from the routing file (e.g. qidong).")
@click.option("--display-name", default="", help="Name shown in the console (default: NAME).")
@click.option("--on-call", is_flag=True, help="Alerted for every red case.")
@click.option("--wechat-openid", default="", help="Bound WeChat openid for template-message alerts.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def user_add_command(name: str, role: str, teams: tuple[str, ...], display_name: str, on_call: bool,
                     wechat_openid: str, password_stdin: bool) -> None:
    """Create a console account; without a terminal or --password-stdin a password is generated and printed once."""
    settings = get_settings()
    upgrade(settings)
    password, generated = _password(password_stdin)
    with session_scope(settings) as session:
        ensure_region_teams(session, settings.teams_file)  # a member of a region's local team (routing file)
    with session_scope(settings) as session:
        account = create_account(session, name, password, role, teams, display_name, on_call)
        account.wechat_openid = wechat_openid or None
    click.echo(f"account {name} created ({role})")
    if generated:
        click.echo(f"password (shown once): {password}")


@user_group.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def user_reset_password_command(name: str, password_stdin: bool) -> None:
    """Set a new password (also unlocks the account and signs it out everywhere)."""
    settings = get_settings()
    upgrade(settings)
    password, generated = _password(password_stdin)
    with session_scope(settings) as session:
        set_password(session, find_account(session, name), password)
    click.echo(f"password of {name} reset")
    if generated:
        click.echo(f"password (shown once): {password}")


@user_group.command("unlock")
@click.argument("name")
def user_unlock_command(name: str) -> None:
    """Lift the lockout of an account after failed logins (the password stays; audited)."""
    settings = get_settings()
    upgrade(settings)
    with session_scope(settings) as session:
        account = find_account(session, name)
        unlock(account)
        audit(session, None, "user_unlock", detail={"username": account.username, "via": "cli"})
    click.echo(f"account {name} unlocked")


@user_group.command("unlock-ip")
@click.argument("address")
def user_unlock_ip_command(address: str) -> None:
    """Forget the failed logins of one network address, so it may log in at once again (audited)."""
    settings = get_settings()
    upgrade(settings)
    with session_scope(settings) as session:
        unlock_ip(session, address.strip(), None, via="cli")
    click.echo(f"address {address} may log in again")


@click.group("cases")
def cases_group() -> None:
    """Escalation cases."""


@cases_group.command("export")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (Beijing time).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
@click.option("--csv", "as_csv", is_flag=True, default=True, help="CSV (the only format; the default).")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
def cases_export_command(start: dt.datetime, end: dt.datetime, as_csv: bool, output) -> None:  # type: ignore[no-untyped-def]
    """台账: one CSV row per case created between --from and --to (no message text)."""
    settings = get_settings()
    upgrade(settings)
    with session_scope(settings) as session:
        output.write(cases_csv(session, settings, start.date(), end.date()))
