"""backfill: a run reading a store's past orders, resumable from its row, and the orders it read until done

Revision ID: 20261209_backfill
Revises: 20261207_attribution_depth
Create Date: 2026-12-09 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261209_backfill'
down_revision = '20261207_attribution_depth'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backfill_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('active_store_id', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('runner', sa.String(length=20), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('since', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('of_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_token', sa.Text(), nullable=True),
    sa.Column('read_note', sa.Text(), nullable=True),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('orders_read', sa.Integer(), nullable=False),
    sa.Column('orders_expected', sa.Integer(), nullable=True),
    sa.Column('orders_done', sa.Integer(), nullable=False),
    sa.Column('cursor_placed_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cursor_order_id', sa.String(length=64), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=True),
    sa.Column('lease_until', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['of_run_id'], ['backfill_runs.id'], name=op.f('fk_backfill_runs_of_run_id_backfill_runs'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_backfill_runs_store_id_stores'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_runs')),
    sa.UniqueConstraint('active_store_id', name=op.f('uq_backfill_runs_active_store_id'))
    )
    op.create_index('ix_backfill_runs_store_id', 'backfill_runs', ['store_id'], unique=False)
    op.create_table('backfill_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform_order_id', sa.String(length=64), nullable=False),
    sa.Column('placed_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['backfill_runs.id'], name=op.f('fk_backfill_orders_run_id_backfill_runs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_orders')),
    sa.UniqueConstraint('run_id', 'platform_order_id', name=op.f('uq_backfill_orders_run_id_platform_order_id'))
    )
    op.create_index('ix_backfill_orders_run_id_placed_at', 'backfill_orders',
                    ['run_id', 'placed_at', 'platform_order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_backfill_orders_run_id_placed_at', table_name='backfill_orders')
    op.drop_table('backfill_orders')
    op.drop_index('ix_backfill_runs_store_id', table_name='backfill_runs')
    op.drop_table('backfill_runs')
