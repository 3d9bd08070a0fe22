"""cases.origin and cases.flood (case flood control); messages.origin (rate limit per client address);
wechat_nonces (replay protection in safe mode)

Revision ID: 0005_channel_security
Revises: 0004_message_author
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_channel_security"
down_revision = "0004_message_author"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("origin", sa.String(40), nullable=True))
        batch.add_column(sa.Column("flood", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_cases_origin", ["origin"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("origin", sa.String(40), nullable=True))
        batch.create_index("ix_messages_origin", ["origin"])
    op.create_table(
        "wechat_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_wechat_nonces_seen_at", "wechat_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_wechat_nonces_seen_at", "wechat_nonces")
    op.drop_table("wechat_nonces")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_origin")
        batch.drop_column("origin")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_origin")
        batch.drop_column("flood")
        batch.drop_column("origin")
