"""CLI commands for conversations: ask, chat, eval answers."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from bot.answer.plain import jargon_words
from bot.casework.cases import public_ref_of
from bot.config import PROJECT_ROOT, Settings, get_settings
from bot.pipeline import Conversation, Inbound
from bot.jsonl import read_jsonl
from bot.retrieval.evaluate import covers
from bot.storage.migrate import upgrade

DEFAULT_QA = PROJECT_ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"


@contextmanager
def scratch_conversation() -> Iterator[Conversation]:
    """A pipeline on the configured index with a throwaway SQLite database (batch runs leave no trace)."""
    with tempfile.TemporaryDirectory(prefix="tongban-ask-") as tmp:
        base = get_settings()
        settings = Settings(**{**base.model_dump(), "database_url": f"sqlite:///{Path(tmp) / 'ask.db'}"})
        upgrade(settings)
        conversation = Conversation(settings)
        conversation.warm_up()
        yield conversation


def answer_rows(conversation: Conversation, items: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(input, output row) per item; items with the same `session` are turns of one conversation."""
    run = uuid.uuid4().hex[:8]
    for item in items:
        user = f"{run}:{item.get('session') or item.get('id')}"
        outcome = conversation.handle(Inbound(user_id=user, text=str(item.get("question", ""))))
        yield item, {
            "id": item.get("id"),
            "answer": outcome.reply_text,
            "sources": outcome.sources,
            "grounded": outcome.grounded,
            "level": outcome.level,
        }


@click.command("ask")
@click.argument("question", required=False)
@click.option("--jsonl", "jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Read {"id","question"} or {"id","session","question"} lines; write one JSON line each.')
def ask_command(question: str | None, jsonl: Path | None) -> None:
    """Answer one question (or a file of them) offline, as a guardian would see it."""
    if jsonl is None and question is None:
        raise click.UsageError("give a QUESTION or --jsonl FILE")
    with scratch_conversation() as conversation:
        if jsonl is None:
            click.echo(conversation.handle(Inbound(user_id="ask", text=question or "")).reply_text)
            return
        for _, row in answer_rows(conversation, read_jsonl(jsonl)):
            click.echo(json.dumps(row, ensure_ascii=False))


@click.command("chat")
@click.option("--user", default="terminal", show_default=True, help="Conversation user id.")
def chat_command(user: str) -> None:
    """Talk to Tongban in the terminal (same pipeline and database as the service). Ctrl-D to leave."""
    settings = get_settings()
    upgrade(settings)
    conversation = Conversation(settings)
    conversation.warm_up()
    click.echo("童伴：您好！请问有什么想问的？（Ctrl-D 退出）")
    while True:
        try:
            text = input("您：")
        except (EOFError, KeyboardInterrupt):
            click.echo("")
            return
        outcome = conversation.handle(Inbound(user_id=user, text=text, channel="cli"))
        # The case's public reference (what a family may be told), never its sequential database id.
        reference = public_ref_of(settings, outcome.case_id) if outcome.case_id else None
        level = "" if outcome.level == "green" else f" [{outcome.level} · 个案 {reference or '-'}]"
        click.echo(f"童伴{level}：{outcome.reply_text}\n")


class PlainFigures:
    """How plain the grounded answers read: official words, sentence length, replies over the length budget."""

    def __init__(self, limit: int = 300) -> None:
        self.limit = limit
        self.answers = self.with_jargon = self.too_long = 0
        self.sentences: list[int] = []

    def add(self, reply: str) -> None:
        body = reply.split("出处：")[0]
        self.answers += 1
        self.with_jargon += bool(jargon_words(body))
        self.too_long += len(reply) > self.limit
        self.sentences += [len(s) for s in re.findall(r"[^。！？\n]+", body) if s.strip()]

    def as_dict(self) -> dict[str, float]:
        ordered = sorted(self.sentences)
        return {
            "official_words_rate": self.with_jargon / self.answers if self.answers else 0.0,
            "mean_sentence_chars": sum(ordered) / len(ordered) if ordered else 0.0,
            "p90_sentence_chars": float(ordered[int(len(ordered) * 0.9)]) if ordered else 0.0,
            "over_length_rate": self.too_long / self.answers if self.answers else 0.0,
        }

    def lines(self) -> list[str]:
        d = self.as_dict()
        return [
            f"official words     {d['official_words_rate']:.3f}  ({self.with_jargon}/{self.answers} answers)",
            f"sentence length    mean {d['mean_sentence_chars']:.1f}, p90 {d['p90_sentence_chars']:.0f} characters",
            f"over {self.limit} chars      {d['over_length_rate']:.3f}  ({self.too_long}/{self.answers} answers)",
        ]


@click.command("answers")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_QA,
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-misses", is_flag=True, help="Print the ids of questions whose answer missed a fact.")
def eval_answers_command(path: Path, as_json: bool, show_misses: bool) -> None:
    """Fact recall on grounded questions and honest 'not covered' on out-of-scope ones."""
    items = read_jsonl(path)
    recalled = grounded_total = honest = oos_total = 0
    misses: list[str] = []
    plain = PlainFigures()
    with scratch_conversation() as conversation:
        for item, row in answer_rows(conversation, items):
            if item.get("kind") == "out_of_scope":
                oos_total += 1
                honest += not row["grounded"]
                if row["grounded"]:
                    misses.append(str(item.get("id")))
            else:
                grounded_total += 1
                if row["grounded"]:
                    plain.add(row["answer"])
                hit = covers([row["answer"]], item.get("facts", []))
                recalled += hit
                if not hit:
                    misses.append(str(item.get("id")))
    recall = recalled / grounded_total if grounded_total else 0.0
    oos = honest / oos_total if oos_total else 1.0
    if as_json:
        click.echo(json.dumps({"fact_recall": recall, "grounded_questions": grounded_total,
                               "out_of_scope_rate": oos, "out_of_scope_questions": oos_total, **plain.as_dict()}))
    else:
        click.echo(f"fact recall        {recall:.3f}  ({recalled}/{grounded_total} grounded questions)")
        click.echo(f"out-of-scope rate  {oos:.3f}  ({honest}/{oos_total} answered as not covered)")
        for line in plain.lines():
            click.echo(line)
    if show_misses:
        click.echo("misses: " + " ".join(misses))
