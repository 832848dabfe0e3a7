"""trust boundaries: each store's platform id (signed bodies must name it), clicks that earned a lead,
hourly click counts kept when clicks are pruned, and the indexes repeat clicks and pruning need

Revision ID: 20261201_trust
Revises: 20261123_campaigns
Create Date: 2026-12-01 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261201_trust'
down_revision = '20261123_campaigns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_shop_id', sa.String(length=64), nullable=True))
    # Shopify stores set up before this read no shop id: their setup runs once more (it is idempotent) to
    # read it. Stores never set up (added with --no-setup) are left alone.
    op.execute(sa.text("UPDATE stores SET setup_pending = :yes WHERE platform = 'shopify' AND status = 'active' "
                       "AND setup_at IS NOT NULL").bindparams(yes=True))
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_conversion_id', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_clicks_repeat', ['influencer_id', 'ip_sha256', 'clicked_at'], unique=False)
        batch_op.create_index('ix_clicks_store_time', ['store_id', 'clicked_at'], unique=False)
    with op.batch_alter_table('storefront_reports', schema=None) as batch_op:
        batch_op.create_index('ix_storefront_reports_received', ['received_at'], unique=False)
    op.create_index('ix_events_reports_received', 'events', ['received_at'], unique=False,
                    postgresql_where=sa.text("topic LIKE 'storefront/%'"),
                    sqlite_where=sa.text("topic LIKE 'storefront/%'"))
    op.create_table('click_counts',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('tracking_key', sa.String(length=100), nullable=False),
    sa.Column('hour', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_click_counts_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', 'tracking_key', 'hour', name=op.f('pk_click_counts'))
    )


def downgrade() -> None:
    op.drop_table('click_counts')
    op.drop_index('ix_events_reports_received', table_name='events')
    with op.batch_alter_table('storefront_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_storefront_reports_received')
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_clicks_store_time')
        batch_op.drop_index('ix_clicks_repeat')
        batch_op.drop_column('lead_conversion_id')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('platform_shop_id')
