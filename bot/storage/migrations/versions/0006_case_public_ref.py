"""cases.public_ref: a random reference the family may see instead of the sequential id; existing rows backfilled

Revision ID: 0006_case_public_ref
Revises: 0005_channel_security
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006_case_public_ref"
down_revision = "0005_channel_security"
branch_labels = None
depends_on = None

# Frozen copy of bot.storage.models.PUBLIC_REF_ALPHABET / _LENGTH (a migration never imports the live models).
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("public_ref", sa.String(16), nullable=True))
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("public_ref", sa.String))
    used: set[str] = set()
    for (case_id,) in bind.execute(sa.select(cases.c.id)).all():
        ref = ""
        while not ref or ref in used:
            ref = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        used.add(ref)
        bind.execute(cases.update().where(cases.c.id == case_id).values(public_ref=ref))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("public_ref", existing_type=sa.String(16), nullable=False)
        batch.create_unique_constraint("uq_cases_public_ref", ["public_ref"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("uq_cases_public_ref", type_="unique")
        batch.drop_column("public_ref")
