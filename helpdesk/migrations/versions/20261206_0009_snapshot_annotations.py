"""inspection snapshots keep the marks shown over the camera (#19)

Revision ID: 0009
Revises: 0001
Create Date: 2026-12-06 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('insp_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annotations', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('insp_snapshots', schema=None) as batch_op:
        batch_op.drop_column('annotations')
