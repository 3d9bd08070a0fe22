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


# --- command registrations (one import per feature module) ---
from bot.retrieval.commands import eval_retrieval_command, ingest_command, search_command  # noqa: E402

main.add_command(ingest_command, name="ingest")
main.add_command(search_command, name="search")
eval_group.add_command(eval_retrieval_command, name="retrieval")
from bot.service_commands import db_group, serve_command  # noqa: E402
from knowledge.commands import lint_knowledge_command  # noqa: E402
from bot.answer.commands import ask_command, chat_command, eval_answers_command  # noqa: E402

main.add_command(serve_command, name="serve")
main.add_command(db_group, name="db")
main.add_command(lint_knowledge_command, name="lint-knowledge")
main.add_command(ask_command, name="ask")
main.add_command(chat_command, name="chat")
eval_group.add_command(eval_answers_command, name="answers")
from bot.safety.cli import eval_triage_command, triage_command  # noqa: E402

main.add_command(triage_command, name="triage")
eval_group.add_command(eval_triage_command, name="triage")
from bot.wechat.commands import wechat_group  # noqa: E402

main.add_command(wechat_group, name="wechat")
