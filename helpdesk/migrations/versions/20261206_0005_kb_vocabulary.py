"""kb vocabulary table; search log: filed-for-upkeep marks

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-06 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_vocabulary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=50), nullable=False),
        sa.Column("expansions", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff.id"], name=op.f("fk_kb_vocabulary_created_by_staff"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["staff.id"], name=op.f("fk_kb_vocabulary_updated_by_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_vocabulary")),
        sa.UniqueConstraint("term", name=op.f("uq_kb_vocabulary_term")),
    )
    with op.batch_alter_table("kb_vocabulary", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_vocabulary_updated_at"), ["updated_at"], unique=False)
    with op.batch_alter_table("kb_search_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reported_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_kb_search_log_reported_by_staff"), "staff", ["reported_by"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("kb_search_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_kb_search_log_reported_by_staff"), type_="foreignkey")
        batch_op.drop_column("reported_by")
        batch_op.drop_column("reported_at")
    with op.batch_alter_table("kb_vocabulary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_vocabulary_updated_at"))
    op.drop_table("kb_vocabulary")
