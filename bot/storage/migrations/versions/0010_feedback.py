"""The learning loop: curated_answers (plain answers supervisors write, preferred for similar questions) and
answer_records (each knowledge answer or "not covered" reply, its question, the family's 👍/👎, and whether a
supervisor has dealt with it)

Revision ID: 0010_feedback
Revises: 0007_handoff_modes
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_feedback"
down_revision = "0009_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "curated_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("source_title", sa.String(200), nullable=False, server_default=""),
        sa.Column("source_year", sa.Integer, nullable=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="active"),
        sa.Column("hits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_hit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_by", sa.Integer, sa.ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_curated_answers_status", "curated_answers", ["status"])
    op.create_table(
        "answer_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("channel_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("question_key", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("curated_id", sa.Integer, sa.ForeignKey("curated_answers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("vote", sa.String(8), nullable=True),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gap_status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("resolved_by", sa.Integer, sa.ForeignKey("curated_answers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answer_records_user_id", "answer_records", ["user_id"])
    op.create_index("ix_answer_records_question_key", "answer_records", ["question_key"])
    op.create_index("ix_answer_records_gap_status", "answer_records", ["gap_status"])
    op.create_index("ix_answer_records_created_at", "answer_records", ["created_at"])


def downgrade() -> None:
    op.drop_table("answer_records")
    op.drop_index("ix_curated_answers_status", "curated_answers")
    op.drop_table("curated_answers")
