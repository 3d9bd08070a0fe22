"""Data migrations keep existing rows right (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from bot.config import Settings
from bot.storage.db import get_engine
from bot.storage.migrate import upgrade


def test_0004_marks_console_replies_as_counsellors(db_settings: Settings) -> None:
    upgrade(db_settings, "0003_console")
    with get_engine(db_settings).begin() as conn:
        conn.execute(text("INSERT INTO channel_users (id, channel, external_id, active, created_at, last_seen_at) "
                          "VALUES (1, 'web', 'v1', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO cases (id, user_id, channel, severity, categories, evidence, reasons, status, "
                          "mandatory_report, created_at, updated_at, sla_breach_notified) VALUES (1, 1, 'web', 'red', "
                          "'[]', '[]', '[]', 'open', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"))
        for mid, direction in ((1, "in"), (2, "out"), (3, "out")):
            conn.execute(text("INSERT INTO messages (id, user_id, direction, text, level, case_id, created_at) "
                              f"VALUES ({mid}, 1, '{direction}', 't', 'red', 1, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO case_events (case_id, kind, payload, created_at) "
                          "VALUES (1, 'reply', '{\"message_id\": 3, \"delivery\": \"web\"}', CURRENT_TIMESTAMP)"))
    upgrade(db_settings)
    with get_engine(db_settings).connect() as conn:
        authors = dict(conn.execute(text("SELECT id, author FROM messages ORDER BY id")).all())
    assert authors == {1: None, 2: "bot", 3: "counsellor"}
