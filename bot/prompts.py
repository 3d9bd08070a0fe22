"""Reads prompt and fixed-reply files from the prompts folder (cached: they change only on deploy)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.config import get_settings
from bot.errors import ConfigError


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"prompt file missing: {path}") from exc


def prompt_text(name: str, prompts_dir: Path | None = None) -> str:
    """The text of `prompts/<name>` (e.g. "replies/greeting.txt")."""
    return _read((prompts_dir or get_settings().prompts_dir) / name)


@lru_cache(maxsize=8)
def prompt_yaml(name: str, prompts_dir: Path | None = None) -> dict:
    return yaml.safe_load(prompt_text(name, prompts_dir)) or {}
