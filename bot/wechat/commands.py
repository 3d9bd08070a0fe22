"""`tongban wechat menu push`: validates prompts/wechat_menu.json and creates the bottom menu."""

from __future__ import annotations

import json
from pathlib import Path

import click
from wechatpy.exceptions import WeChatClientException

from bot.config import get_settings
from bot.errors import ChannelError, ConfigError

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
MAX_NAME_BYTES, MAX_SUB_NAME_BYTES, MAX_KEY_BYTES = 16, 60, 128  # WeChat's menu limits


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_button(button: object, where: str, name_limit: int) -> None:
    if not isinstance(button, dict) or not button.get("name"):
        raise ConfigError(f"{where}: every button needs a name")
    name = str(button["name"])
    if _bytes(name) > name_limit:
        raise ConfigError(f"{where} {name!r}: name is {_bytes(name)} bytes, WeChat allows {name_limit}")
    if "sub_button" in button:
        return
    kind = button.get("type")
    if kind == "click" and (not button.get("key") or _bytes(str(button["key"])) > MAX_KEY_BYTES):
        raise ConfigError(f"{where} {name!r}: a click button needs a key of 1-{MAX_KEY_BYTES} bytes")
    if kind == "view" and not str(button.get("url", "")).startswith(("http://", "https://")):
        raise ConfigError(f"{where} {name!r}: a view button needs an http(s) url")
    if kind not in ("click", "view"):
        raise ConfigError(f"{where} {name!r}: type must be click or view (or give sub_button)")


def validate_menu(menu: object) -> dict:
    """The menu unchanged if WeChat would accept it; ConfigError with one clear line otherwise."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not buttons:
        raise ConfigError('menu needs a non-empty "button" list')
    if len(buttons) > MAX_BUTTONS:
        raise ConfigError(f"menu has {len(buttons)} top-level buttons, WeChat allows {MAX_BUTTONS}")
    for i, button in enumerate(buttons, 1):
        _check_button(button, f"button {i}", MAX_NAME_BYTES)
        subs = button.get("sub_button")
        if subs is None:
            continue
        if not isinstance(subs, list) or not subs or len(subs) > MAX_SUB_BUTTONS:
            raise ConfigError(f"button {i}: sub_button must list 1-{MAX_SUB_BUTTONS} buttons")
        for j, sub in enumerate(subs, 1):
            _check_button(sub, f"button {i}.{j}", MAX_SUB_NAME_BYTES)
    return menu  # type: ignore[return-value]


def load_menu(path: Path) -> dict:
    try:
        return validate_menu(json.loads(path.read_text("utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc


@click.group(name="wechat")
def wechat_group() -> None:
    """WeChat 公众号 administration."""


@wechat_group.group(name="menu")
def menu_group() -> None:
    """The bottom menu."""


@menu_group.command(name="push")
@click.option("--file", "path", type=click.Path(path_type=Path), default=None,
              help="Menu JSON (default: prompts/wechat_menu.json).")
@click.option("--dry-run", is_flag=True, help="Only validate the file.")
def menu_push_command(path: Path | None, dry_run: bool) -> None:
    """Validates the menu file and creates the menu with menu/create."""
    from bot.wechat.client import make_client

    settings = get_settings()
    menu = load_menu(path or settings.prompts_dir / "wechat_menu.json")
    if dry_run:
        click.echo(f"menu ok: {len(menu['button'])} top-level buttons")
        return
    try:
        make_client(settings).create_menu(menu)
    except WeChatClientException as exc:
        raise ChannelError(f"menu/create refused: {exc.errcode} {exc.errmsg}") from exc
    click.echo("menu created")
