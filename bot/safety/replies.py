"""Fixed crisis and support replies: one template file per level and category under prompts/crisis/.

Red replies are brief and tell the guardian what to do now (stay with the child, remove dangerous things,
110/120, 12356 and 12355, a counsellor will call); yellow replies give one or two steps and offer a
follow-up. National numbers are in every template; local lines from settings are added after them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.config import get_settings
from bot.errors import ConfigError
from bot.safety.model import Triage


@lru_cache(maxsize=32)
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"crisis reply template missing: {path}") from exc


def template_name(triage: Triage) -> str | None:
    """Template file stem for the most severe category, or None for green."""
    if triage.level == "green":
        return None
    crisis_dir = get_settings().prompts_dir / "crisis"
    name = f"{triage.level}_{triage.category}"
    if (crisis_dir / f"{name}.txt").exists():
        return name
    return f"{triage.level}_default" if triage.level == "yellow" else "red_suicide"


def crisis_reply(triage: Triage, local_hotlines: str = "") -> str:
    """The fixed reply for a red or yellow triage ("" for green), with local lines when configured."""
    name = template_name(triage)
    if name is None:
        return ""
    template = _read(get_settings().prompts_dir / "crisis" / f"{name}.txt")
    local = local_hotlines.strip()
    return template.replace("{local_lines}", f"、{local}" if local else "")
