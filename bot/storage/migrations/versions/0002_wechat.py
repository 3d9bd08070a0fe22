"""wechat: shared access tokens, followers, delivery outbox

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_tokens",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "wechat_followers",
        sa.Column("openid", sa.String(128), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("wants_person_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "wechat_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("msg_key", sa.String(160), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("msg_key", "part", name="uq_wechat_outbox_part"),
    )
    op.create_index("ix_wechat_outbox_openid", "wechat_outbox", ["openid"])
    op.create_index("ix_wechat_outbox_status", "wechat_outbox", ["status"])


def downgrade() -> None:
    op.drop_table("wechat_outbox")
    op.drop_table("wechat_followers")
    op.drop_table("wechat_tokens")
