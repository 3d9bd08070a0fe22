"""CLI command for the knowledge folder: lint-knowledge."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.config import get_settings
from knowledge.lint import lint_folder


@click.command("lint-knowledge")
@click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of articles (default: the knowledge dir's outreach/).")
def lint_knowledge_command(folder: Path | None) -> None:
    """Check every outreach article; print file:line messages and exit 1 on any problem."""
    folder = folder or get_settings().knowledge_dir / "outreach"
    count, problems = lint_folder(folder)
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{count} articles checked, {len(problems)} problem(s)")
    if problems:
        sys.exit(1)
