"""retention and metrics: what retention may erase found by age, reconciliation's events counted by index

Revision ID: 20261204_retention_indexes
Revises: 20261203_workers
Create Date: 2026-12-04 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '20261204_retention_indexes'
down_revision = '20261203_workers'
branch_labels = None
depends_on = None

SETTLED = "status <> 'pending'"
RECONCILED = "topic = 'reconcile/order'"
EXCERPT = "excerpt IS NOT NULL"


def upgrade() -> None:
    op.create_index('ix_events_settled_received', 'events', ['received_at'], unique=False,
                    postgresql_where=sa.text(SETTLED), sqlite_where=sa.text(SETTLED))
    op.create_index('ix_events_reconciled', 'events', ['id'], unique=False,
                    postgresql_where=sa.text(RECONCILED), sqlite_where=sa.text(RECONCILED))
    op.create_index('ix_delivery_attempts_excerpt_age', 'delivery_attempts', ['attempted_at'], unique=False,
                    postgresql_where=sa.text(EXCERPT), sqlite_where=sa.text(EXCERPT))


def downgrade() -> None:
    op.drop_index('ix_delivery_attempts_excerpt_age', table_name='delivery_attempts')
    op.drop_index('ix_events_reconciled', table_name='events')
    op.drop_index('ix_events_settled_received', table_name='events')
