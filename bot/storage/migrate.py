"""Runs Alembic migrations from code, so `tongban db upgrade` and the app's start-up need no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.errors import StorageError
from bot.storage.db import get_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Brings the database schema to `revision`; raises StorageError with one clear line on failure."""
    engine = get_engine(settings)
    try:
        with engine.begin() as connection:
            config = alembic_config(settings)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StorageError(f"database not reachable at {engine.url.render_as_string(hide_password=True)}: "
                           f"{str(exc.orig).strip().splitlines()[0]}") from exc
