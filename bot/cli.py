"""The `tongban` command line: every capability is a command first."""

from __future__ import annotations

import sys

import click

from bot.errors import TongbanError


class _Group(click.Group):
    """Turns any TongbanError into one clear line and exit status 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TongbanError as exc:
            click.echo(f"错误 / error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """童伴 Tongban: answers and crisis triage for guardians of left-behind children."""


@main.group(name="eval", cls=_Group)
def eval_group() -> None:
    """Measure retrieval, answers and triage against a labelled file."""


# --- command registrations: each feature module provides its commands ---
from bot.answer.commands import ask_command, chat_command, eval_answers_command  # noqa: E402
from bot.console.commands import cases_group, user_group  # noqa: E402
from bot.retrieval.commands import eval_retrieval_command, ingest_command, search_command  # noqa: E402
from bot.privacy_commands import delete_user_command, export_user_command, purge_command  # noqa: E402
from bot.safety.cli import eval_triage_command, train_group, triage_command  # noqa: E402
from bot.service_commands import db_group, serve_command  # noqa: E402
from bot.wechat.commands import wechat_group  # noqa: E402
from knowledge.commands import lint_knowledge_command  # noqa: E402

for command, name in (
    (serve_command, "serve"), (db_group, "db"), (ingest_command, "ingest"), (search_command, "search"),
    (ask_command, "ask"), (chat_command, "chat"), (triage_command, "triage"),
    (lint_knowledge_command, "lint-knowledge"), (wechat_group, "wechat"), (user_group, "user"),
    (cases_group, "cases"), (train_group, "train"),
    (purge_command, "purge"), (export_user_command, "export-user"), (delete_user_command, "delete-user"),
):
    main.add_command(command, name=name)
for command, name in (
    (eval_retrieval_command, "retrieval"), (eval_answers_command, "answers"), (eval_triage_command, "triage"),
):
    eval_group.add_command(command, name=name)
