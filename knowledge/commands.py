"""CLI command for the knowledge folder: lint-knowledge."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.config import get_settings
from knowledge.lint import lint_crisis_sources, lint_folder


@click.command("lint-knowledge")
@click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of articles (default: the knowledge dir's outreach/).")
@click.option("--crisis-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Crisis reply templates and their sources.yaml (default: the prompts dir's crisis/).")
@click.option("--policy-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder with documents.yaml, which place articles name (default: the knowledge dir's policy/).")
def lint_knowledge_command(folder: Path | None, crisis_dir: Path | None, policy_dir: Path | None) -> None:
    """Check every outreach article and that every crisis template names its sources; print file:line
    messages and exit 1 on any problem."""
    folder = folder or get_settings().knowledge_dir / "outreach"
    count, problems = lint_folder(folder, policy_dir or get_settings().knowledge_dir / "policy")
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{count} articles checked, {len(problems)} problem(s)")
    templates, crisis_problems = lint_crisis_sources(crisis_dir or get_settings().prompts_dir / "crisis")
    for problem in crisis_problems:
        click.echo(str(problem))
    click.echo(f"{templates} crisis templates checked, {len(crisis_problems)} problem(s)")
    problems = problems + crisis_problems
    if problems:
        sys.exit(1)
