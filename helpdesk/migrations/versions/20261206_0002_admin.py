"""administration: unit fallback and disabled flag, item links and outdated flag, unit admins,
one-time passwords, the admin audit chain

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('org_units') as batch:
        batch.add_column(sa.Column('fallback_after_s', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('service_items') as batch:
        batch.add_column(sa.Column('checklist_ref', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('guide_ref', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('outdated', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('unit_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    op.create_table('admin_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('origin', sa.String(length=128), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_admin_events_seq'))
    )
    op.create_index(op.f('ix_admin_events_at'), 'admin_events', ['at'], unique=False)
    op.create_index(op.f('ix_admin_events_kind'), 'admin_events', ['kind'], unique=False)
    op.create_table('audit_heads',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_audit_heads'))
    )


def downgrade() -> None:
    op.drop_table('audit_heads')
    op.drop_index(op.f('ix_admin_events_kind'), table_name='admin_events')
    op.drop_index(op.f('ix_admin_events_at'), table_name='admin_events')
    op.drop_table('admin_events')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('must_change_password')
        batch.drop_column('unit_admin')
    with op.batch_alter_table('service_items') as batch:
        batch.drop_column('outdated')
        batch.drop_column('guide_ref')
        batch.drop_column('checklist_ref')
    with op.batch_alter_table('org_units') as batch:
        batch.drop_column('disabled')
        batch.drop_column('fallback_after_s')
