"""Reading JSONL input files with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.errors import TongbanError


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSONL file (blank lines skipped); a bad line raises TongbanError with its number."""
    items = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise TongbanError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise TongbanError(f"{path.name}: not UTF-8 text") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise TongbanError(f"{path.name}:{number}: not valid JSON ({exc.msg})") from exc
    return items
