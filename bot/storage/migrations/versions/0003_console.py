"""console: accounts, teams, sessions, referrals, follow-ups, mandatory reports, audit log, case workflow columns

Revision ID: 0003_console
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_console"
down_revision = "0002"
branch_labels = None
depends_on = None

# Seeded hotline teams (the defaults); bot/casework/routing_teams.yaml maps categories to these keys.
SEEDED_TEAMS = (("12356", "12356 心理援助"), ("12355", "12355 青少年服务"), ("local", "本地儿童福利"))

CASE_COLUMNS = (
    sa.Column("team", sa.String(32), nullable=True),
    sa.Column("assigned_to", sa.Integer(), nullable=True),
    sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("sla_breach_notified", sa.Boolean(), nullable=False, server_default=sa.false()),
)


def _by(name: str = "account_id") -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)


def _case() -> sa.Column:
    return sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("on_call", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("wechat_openid", sa.String(128), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    )
    teams = op.create_table(
        "teams",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
    )
    op.bulk_insert(teams, [{"key": key, "name": name} for key, name in SEEDED_TEAMS])
    op.create_table(
        "team_members",
        sa.Column("team_key", sa.String(32), sa.ForeignKey("teams.key", ondelete="CASCADE"), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_account_id", "console_sessions", ["account_id"])
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _case(),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False, server_default=""),
        _by(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), primary_key=True),
        _case(),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        _by(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_follow_ups_case_id", "follow_ups", ["case_id"])
    op.create_index("ix_follow_ups_due_on", "follow_ups", ["due_on"])
    op.create_table(
        "mandatory_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        _case(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_to", sa.String(128), nullable=False, server_default=""),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.String(128), nullable=False, server_default=""),
        sa.Column("deferral_reason", sa.Text(), nullable=False, server_default=""),
        _by(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mandatory_reports_case_id", "mandatory_reports", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        _by(),
        sa.Column("username", sa.String(64), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # Plain ADD COLUMN (no batch): rebuilding `cases` on SQLite would null messages.case_id through its FK.
    for column in CASE_COLUMNS:
        op.add_column("cases", column)
    op.create_index("ix_cases_team", "cases", ["team"])
    op.create_index("ix_cases_assigned_to", "cases", ["assigned_to"])


def downgrade() -> None:
    op.drop_index("ix_cases_assigned_to", "cases")
    op.drop_index("ix_cases_team", "cases")
    with op.batch_alter_table("cases") as batch:
        for column in reversed(CASE_COLUMNS):
            batch.drop_column(column.name)
    for table in ("audit_log", "mandatory_reports", "follow_ups", "referrals", "console_sessions", "team_members",
                  "teams", "accounts"):
        op.drop_table(table)
