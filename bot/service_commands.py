"""CLI commands that run or prepare the service: serve, db upgrade."""

from __future__ import annotations

import click

from bot.config import get_settings
from bot.logs import configure_logging, logging_config
from bot.metrics import prepare_multiprocess_dir
from bot.retrieval.commands import ingest_with_progress
from bot.retrieval.ingest import index_exists
from bot.storage.migrate import upgrade


@click.command("serve")
@click.option("--host", default=None, help="Default: TONGBAN_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: TONGBAN_PORT (8000).")
@click.option("--workers", default=None, type=int, help="Default: TONGBAN_WORKERS (1).")
def serve_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Start the web service (migrates the database and builds the index first if missing)."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings)
    if not index_exists(settings):
        click.echo("knowledge index missing: building it once from the shipped passage vectors (about 10 s)…")
        report = ingest_with_progress(settings)
        click.echo(report.summary())
    worker_count = workers or settings.workers
    if worker_count > 1:  # workers add up their metrics through files in a shared folder
        prepare_multiprocess_dir(settings.resolved_data_dir)
    uvicorn.run(
        "handlers.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=worker_count,
        log_config=logging_config(settings.log_level, settings.log_format),
        access_log=False,
        proxy_headers=False,  # handlers.forwarded believes X-Forwarded-* from TONGBAN_TRUSTED_PROXIES only
    )


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade_command(revision: str) -> None:
    """Apply Alembic migrations."""
    upgrade(get_settings(), revision)
    click.echo(f"database at {revision}")
