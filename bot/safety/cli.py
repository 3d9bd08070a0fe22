"""`tongban triage` and `tongban eval triage`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.config import PROJECT_ROOT
from bot.jsonl import read_jsonl
from bot.safety.evaluate import LEVELS, evaluate, with_history
from bot.safety.risk_model import ARTIFACT_PATH
from bot.safety.training import CORPUS_DIR, CorpusError, train
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
    for line in result.explanation:
        click.echo(f"why: {line}")
    if result.scores:
        click.echo(f"model: p_red {result.scores['p_red']:.3f}, p_red+yellow {result.scores['p_risk']:.3f}")
    for reason in result.reasons:
        click.echo(f"  - {reason}")


@click.command()
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_EVAL_FILE,
              show_default=True, help='Labelled JSONL: {"id","text","level","category"}.')
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-semantic", is_flag=True, help="Without the embedding layer (used only when the model is missing).")
@click.option("--rules-only", is_flag=True, help="Lexicon and guards without the learned model.")
@click.option("--by", type=click.Choice(["category", "style", "speaker", "situation"]), default="category",
              show_default=True, help="Break the figures down by this field of the file.")
@click.option("--show-misses", is_flag=True, help="List the items whose level was wrong.")
def eval_triage_command(path: Path, as_json: bool, no_semantic: bool, rules_only: bool, by: str,
                        show_misses: bool) -> None:
    """Confusion matrix, red recall, red+yellow recall, green false alarms, speaker and situation accuracy."""
    report = evaluate(read_jsonl(path), semantic=not no_semantic, learned=not rules_only, by=by)
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
    click.echo(f"{by}:")
    for category, figures in data["per_category"].items():
        click.echo(_row(category, figures))
    overall = data["overall"]
    click.echo(f"speaker accuracy: {_pct(overall['speaker_accuracy'])} "
               f"(red and yellow lines: {_pct(overall['speaker_accuracy_risk'])})   "
               f"situation accuracy (red emergencies): {_pct(overall['situation_accuracy'])}")
    if show_misses:
        click.echo()
        for miss in data["misses"]:
            click.echo(f"{miss['id']}: gold {miss['gold']} predicted {miss['predicted']} "
                       f"{miss['categories']} {miss['text']}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(name: str, f: dict) -> str:
    n = f["n_risk"] + f["n_green"]
    rates = f"{_pct(f['red_recall']):>12}{_pct(f['red_yellow_recall']):>13}{_pct(f['green_false_alarm']):>10}"
    return f"{name:<16}{rates}{n:>5}"


@click.group("train")
def train_group() -> None:
    """Train learned models from the repository's own data."""


@train_group.command("triage")
@click.option("--corpus", "corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=CORPUS_DIR,
              show_default=True, help="Folder of labelled *.jsonl files.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=ARTIFACT_PATH, show_default=True)
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds.")
def train_triage_command(corpus: Path, out: Path, folds: int) -> None:
    """Cross-validate the risk model on the corpus, choose thresholds, fit on everything, write the artifact."""
    try:
        report = train(corpus, out, folds)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{report.examples} examples ({report.dropped} near-duplicates dropped); thresholds "
               f"red {report.thresholds['red']:.3f}, red+yellow {report.thresholds['risk']:.3f}")
    click.echo(f"{folds}-fold cross-validation (model alone):")
    click.echo(f"{'':<22}{'red rec':>9}{'r+y rec':>9}{'green FA':>10}{'speaker':>9}{'situation':>10}{'n':>6}")
    for by, groups in report.figures.items():
        for name, f in groups.items():
            click.echo(f"{(by + ':' + name)[:22]:<22}{_pct(f['red_recall']):>9}{_pct(f['red_yellow_recall']):>9}"
                       f"{_pct(f['green_false_alarm']):>10}{_pct(f['speaker_accuracy']):>9}"
                       f"{_pct(f['situation_accuracy']):>10}{f['n']:>6}")
    click.echo(f"written: {report.artifact}")
