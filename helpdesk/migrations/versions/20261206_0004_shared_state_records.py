"""agent status and shared-state epochs (Redis rebuilt from PostgreSQL)

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-06 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_status',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_at', sa.DateTime(), nullable=False),
    sa.Column('connected_at', sa.DateTime(), nullable=True),
    sa.Column('disconnected_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_agent_status_staff_id_staff')),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_agent_status'))
    )
    op.create_table('shared_state_epochs',
    sa.Column('epoch', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('redis_run_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('repaired', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('epoch', name=op.f('pk_shared_state_epochs'))
    )


def downgrade() -> None:
    op.drop_table('shared_state_epochs')
    op.drop_table('agent_status')
