"""Migration 0008_case_region on a database with cases (SQLite and PostgreSQL): a case takes the region its
person's contact already has, nobody's messages count as answered yet, and the migration goes down again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from bot.config import Settings
from bot.storage.db import get_engine
from bot.storage.migrate import alembic_config, upgrade


def test_0008_adds_the_region_from_the_contact_and_goes_down_again(db_settings: Settings) -> None:
    upgrade(db_settings, "0007_handoff_modes")
    with get_engine(db_settings).begin() as conn:
        for user_id in (1, 2):
            conn.execute(text("INSERT INTO channel_users (id, channel, external_id, active, created_at, last_seen_at) "
                              f"VALUES ({user_id}, 'web', 'v{user_id}', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO cases (id, user_id, channel, severity, categories, evidence, reasons, status, "
                "mandatory_report, created_at, updated_at, sla_breach_notified, public_ref) VALUES "
                f"({user_id}, {user_id}, 'web', 'red', '[]', '[]', '[]', 'open', false, CURRENT_TIMESTAMP, "
                f"CURRENT_TIMESTAMP, false, 'REF{user_id}')"))
        conn.execute(text("INSERT INTO contacts (user_id, relationship, child_age, region, phone, updated_at) "
                          "VALUES (1, '奶奶', '', '江苏省启东市汇龙镇', '', CURRENT_TIMESTAMP)"))
    upgrade(db_settings)
    engine = get_engine(db_settings)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, region, answered_upto FROM cases ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(1, "江苏省启东市汇龙镇", None), (2, "", None)]
    with engine.begin() as connection:
        config = alembic_config(db_settings)
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_handoff_modes")
    engine.dispose()
    columns = {column["name"] for column in inspect(get_engine(db_settings)).get_columns("cases")}
    assert "region" not in columns and "answered_upto" not in columns
