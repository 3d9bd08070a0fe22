"""messages.author: who wrote an outbound message ("bot" or "counsellor"); inbound rows leave it empty

Revision ID: 0004_message_author
Revises: 0003_console
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_message_author"
down_revision = "0003_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("author", sa.String(16), nullable=True))
    # Outbound rows written before this column: the bot's, except those a console "reply" event names.
    op.execute("UPDATE messages SET author = 'bot' WHERE direction = 'out'")
    bind = op.get_bind()
    events = sa.table("case_events", sa.column("kind", sa.String), sa.column("payload", sa.JSON))
    messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("author", sa.String))
    for (payload,) in bind.execute(sa.select(events.c.payload).where(events.c.kind == "reply")):
        if isinstance(payload, dict) and isinstance(payload.get("message_id"), int):
            bind.execute(messages.update().where(messages.c.id == payload["message_id"]).values(author="counsellor"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("author")
