"""cases.region: where the family is (from the person's contact region, bot.casework.cases); the routing file's
`regions:` block picks the local team by it. cases.answered_upto: the newest message id answered by a counsellor
message delivered to the family or a recorded phone call (the next-response clock of human mode counts the
family's messages after it)

Revision ID: 0008_case_region
Revises: 0007_handoff_modes
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_case_region"
down_revision = "0007_handoff_modes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("region", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("answered_upto", sa.Integer, nullable=True))
    # Existing cases take the region their person's contact already has.
    op.execute("UPDATE cases SET region = (SELECT contacts.region FROM contacts "
               "WHERE contacts.user_id = cases.user_id) WHERE EXISTS (SELECT 1 FROM contacts "
               "WHERE contacts.user_id = cases.user_id AND contacts.region <> '')")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("answered_upto")
        batch.drop_column("region")
