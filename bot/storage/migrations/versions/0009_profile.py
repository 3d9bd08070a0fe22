"""contacts: the per-person profile learned from what the person says (issue 17). `set_by` says who set each of
relationship, child_age and region ("family": the person said so; "counsellor": set on the case page), so the
bot never overwrites a counsellor's entry unless the person corrects it; `region_asked_at`: when the bot asked
「您是哪个县市的？」 (asked once per person).

Revision ID: 0009_profile
Revises: 0007_handoff_modes
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_profile"
down_revision = "0008_case_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("set_by", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("region_asked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("region_asked_at")
        batch.drop_column("set_by")
