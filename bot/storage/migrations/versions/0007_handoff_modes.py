"""conversation_modes: bot or human mode per channel user; cases.read_upto: the last family message a
counsellor has seen on the case page (the queue's unread count); contacts: who writes, the child's age, region and
the call-back phone number, per channel user; cases.sla_from: when the response clock started (restarted when
the case escalates to red)

Revision ID: 0007_handoff_modes
Revises: 0006_case_public_ref
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_handoff_modes"
down_revision = "0006_case_public_ref"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_modes",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("channel_users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("mode", sa.String(8), nullable=False, server_default="bot"),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="SET NULL"), nullable=True),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_counsellor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holding_sent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_modes_mode", "conversation_modes", ["mode"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("read_upto", sa.Integer, nullable=True))
        batch.add_column(sa.Column("sla_from", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "contacts",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("channel_users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("relationship", sa.String(32), nullable=False, server_default=""),
        sa.Column("child_age", sa.String(16), nullable=False, server_default=""),
        sa.Column("region", sa.String(64), nullable=False, server_default=""),
        sa.Column("phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("phone_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contacts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("sla_from")
        batch.drop_column("read_upto")
    op.drop_index("ix_conversation_modes_mode", "conversation_modes")
    op.drop_table("conversation_modes")
