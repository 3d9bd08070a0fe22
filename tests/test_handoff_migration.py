"""Migration 0007_handoff_modes on a database with cases (SQLite and PostgreSQL): existing cases keep their
rows, start in bot mode with no unread marker, and the migration goes down again cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from bot.config import Settings
from bot.storage.db import get_engine
from bot.storage.migrate import alembic_config, upgrade


def test_0007_adds_modes_contacts_and_the_sla_clock_and_goes_down_again(db_settings: Settings) -> None:
    upgrade(db_settings, "0004_message_author")
    with get_engine(db_settings).begin() as conn:
        conn.execute(text("INSERT INTO channel_users (id, channel, external_id, active, created_at, last_seen_at) "
                          "VALUES (1, 'web', 'v1', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO cases (id, user_id, channel, severity, categories, evidence, reasons, status, "
                          "mandatory_report, created_at, updated_at, sla_breach_notified) VALUES (1, 1, 'web', 'red', "
                          "'[]', '[]', '[]', 'open', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"))
    upgrade(db_settings)
    engine = get_engine(db_settings)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT read_upto, sla_from FROM cases WHERE id = 1")).one() == (None, None)
        assert conn.execute(text("SELECT count(*) FROM conversation_modes")).scalar() == 0
    tables = set(inspect(engine).get_table_names())
    assert {"conversation_modes", "contacts"} <= tables
    with engine.begin() as connection:
        config = alembic_config(db_settings)
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_message_author")
    engine.dispose()
    inspector = inspect(get_engine(db_settings))
    assert not {"conversation_modes", "contacts"} & set(inspector.get_table_names())
    assert "read_upto" not in {column["name"] for column in inspector.get_columns("cases")}
