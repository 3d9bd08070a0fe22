"""`tongban triage` and `tongban eval triage`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.config import PROJECT_ROOT
from bot.jsonl import read_jsonl
from bot.safety.evaluate import LEVELS, evaluate, with_history
from bot.safety.triage import triage

DEFAULT_EVAL_FILE = PROJECT_ROOT.parent / "shared" / "eval" / "triage_dev.jsonl"


@click.command()
@click.argument("text", required=False)
@click.option("--jsonl", "jsonl_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Lines {"id","text"} or {"id","session","text"}; one JSON result per line on stdout.')
@click.option("--no-semantic", is_flag=True, help="Lexicon and guards only (skip the embedding layer).")
def triage_command(text: str | None, jsonl_path: Path | None, no_semantic: bool) -> None:
    """Risk level, categories and evidence for TEXT (or for every line of --jsonl)."""
    semantic = not no_semantic
    if jsonl_path is not None:
        for row, history in with_history(read_jsonl(jsonl_path)):
            result = triage(row["text"], history, semantic=semantic)
            out = {"id": row.get("id"), "level": result.level, "categories": list(result.categories),
                   "evidence": list(result.evidence), "situation": result.situation, "speaker": result.speaker}
            click.echo(json.dumps(out, ensure_ascii=False))
        return
    if not text:
        raise click.UsageError('give a TEXT or --jsonl FILE, e.g. tongban triage "孙子说不想活了"')
    result = triage(text, semantic=semantic)
    click.echo(f"level: {result.level}")
    click.echo(f"categories: {', '.join(result.categories) or '-'}")
    click.echo(f"evidence: {' | '.join(result.evidence) or '-'}")
    click.echo(f"situation: {result.situation}")
    click.echo(f"speaker: {result.speaker}")
    for reason in result.reasons:
        click.echo(f"  - {reason}")


@click.command()
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_EVAL_FILE,
              show_default=True, help='Labelled JSONL: {"id","text","level","category"}.')
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-semantic", is_flag=True, help="Lexicon and guards only.")
@click.option("--show-misses", is_flag=True, help="List the items whose level was wrong.")
def eval_triage_command(path: Path, as_json: bool, no_semantic: bool, show_misses: bool) -> None:
    """Confusion matrix, red recall, red+yellow recall and green false alarms on a labelled file."""
    report = evaluate(read_jsonl(path), semantic=not no_semantic)
    data = report.as_dict()
    if as_json:
        if not show_misses:
            data.pop("misses")
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        click.echo()
        return
    click.echo(f"file: {path}")
    click.echo("confusion (rows gold, columns predicted):")
    click.echo("gold\\pred " + "".join(f"{lv:>8}" for lv in LEVELS))
    for gold in LEVELS:
        click.echo(f"{gold:<9} " + "".join(f"{report.confusion[gold][p]:>8}" for p in LEVELS))
    click.echo()
    click.echo(f"{'':<16}{'red recall':>12}{'red+yel rec':>13}{'green FA':>10}{'n':>5}")
    click.echo(_row("overall", data["overall"]))
    for category, figures in data["per_category"].items():
        click.echo(_row(category, figures))
    if show_misses:
        click.echo()
        for miss in data["misses"]:
            click.echo(f"{miss['id']}: gold {miss['gold']} predicted {miss['predicted']} "
                       f"{miss['categories']} {miss['text']}")


def _row(name: str, f: dict) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    n = f["n_risk"] + f["n_green"]
    rates = f"{pct(f['red_recall']):>12}{pct(f['red_yellow_recall']):>13}{pct(f['green_false_alarm']):>10}"
    return f"{name:<16}{rates}{n:>5}"
