"""campaigns: influencers' discounts and code state, clicks, browser reports, customers (leads),
per-influencer credits, and each store's attribution model

Revision ID: 20261123_campaigns
Revises: 20261123_refresh_lease
Create Date: 2026-11-23 14:54:23.823782
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261123_campaigns'
down_revision = '20261123_refresh_lease'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('starts_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ends_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_campaigns_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('store_id', 'campaign_id', name=op.f('uq_campaigns_store_id_campaign_id'))
    )
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('platform_customer_id', sa.String(length=64), nullable=False),
    sa.Column('email_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_up_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lead_conversion_id', sa.String(length=40), nullable=True),
    sa.Column('awaiting_report_until', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_customers_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('store_id', 'platform_customer_id', name=op.f('uq_customers_store_id_platform_customer_id'))
    )
    op.create_table('discounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=400), nullable=False),
    sa.Column('remote_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_discounts_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discounts')),
    sa.UniqueConstraint('store_id', 'group_key', name=op.f('uq_discounts_store_id_group_key'))
    )
    op.create_table('storefront_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('platform_order_id', sa.String(length=64), nullable=True),
    sa.Column('proof_sha256', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('email_sha256', sa.String(length=64), nullable=True),
    sa.Column('touches', sa.JSON(), nullable=False),
    sa.Column('received_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_storefront_reports_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storefront_reports'))
    )
    with op.batch_alter_table('storefront_reports', schema=None) as batch_op:
        batch_op.create_index('ix_storefront_reports_customer', ['store_id', 'customer_id'], unique=False)
        batch_op.create_index('ix_storefront_reports_email', ['store_id', 'email_sha256'], unique=False)
        batch_op.create_index('ix_storefront_reports_order', ['store_id', 'platform_order_id'], unique=False)

    op.create_table('clicks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('influencer_id', sa.Integer(), nullable=False),
    sa.Column('tracking_key', sa.String(length=100), nullable=False),
    sa.Column('clicked_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ip_sha256', sa.String(length=64), nullable=True),
    sa.Column('user_agent_sha256', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['influencer_id'], ['influencers.id'], name=op.f('fk_clicks_influencer_id_influencers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_clicks_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clicks'))
    )
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index('ix_clicks_store_tracking_time', ['store_id', 'tracking_key', 'clicked_at'], unique=False)

    op.create_table('conversion_credits',
    sa.Column('conversion_id', sa.String(length=40), nullable=False),
    sa.Column('tracking_key', sa.String(length=100), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('share', connector.models.DecimalAmount(precision=20, scale=6), nullable=False),
    sa.Column('amount', connector.models.DecimalAmount(precision=20, scale=6), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversion_id'], ['conversions.id'], name=op.f('fk_conversion_credits_conversion_id_conversions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_conversion_credits_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversion_id', 'tracking_key', name=op.f('pk_conversion_credits'))
    )
    with op.batch_alter_table('conversion_credits', schema=None) as batch_op:
        batch_op.create_index('ix_conversion_credits_store_tracking', ['store_id', 'tracking_key', 'created_at'], unique=False)

    with op.batch_alter_table('influencers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('requested_code', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('discount_kind', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('discount_value', connector.models.DecimalAmount(precision=20, scale=6), nullable=True))
        batch_op.add_column(sa.Column('discount_starts_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('discount_ends_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('usage_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('once_per_customer', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('code_status', sa.String(length=20), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('code_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('code_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('code_remote_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('code_discount_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('code_synced_at', connector.models.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('awaiting_report_until', connector.models.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attribution_model', sa.String(length=20), nullable=False, server_default='last_click'))
        batch_op.add_column(sa.Column('attribution_window_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('half_life_days', sa.Integer(), nullable=False, server_default='7'))
        batch_op.add_column(sa.Column('storefront_url', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('codes_due_at', connector.models.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('codes_due_at')
        batch_op.drop_column('currency')
        batch_op.drop_column('storefront_url')
        batch_op.drop_column('half_life_days')
        batch_op.drop_column('attribution_window_days')
        batch_op.drop_column('attribution_model')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('awaiting_report_until')
        batch_op.drop_column('last_event_id')
        batch_op.drop_column('proof_sha256')

    with op.batch_alter_table('influencers', schema=None) as batch_op:
        batch_op.drop_column('code_synced_at')
        batch_op.drop_column('code_discount_id')
        batch_op.drop_column('code_remote_id')
        batch_op.drop_column('code_attempts')
        batch_op.drop_column('code_error')
        batch_op.drop_column('code_status')
        batch_op.drop_column('once_per_customer')
        batch_op.drop_column('usage_limit')
        batch_op.drop_column('discount_ends_at')
        batch_op.drop_column('discount_starts_at')
        batch_op.drop_column('discount_value')
        batch_op.drop_column('discount_kind')
        batch_op.drop_column('requested_code')
        batch_op.drop_column('removed_at')
        batch_op.drop_column('updated_at')

    with op.batch_alter_table('conversion_credits', schema=None) as batch_op:
        batch_op.drop_index('ix_conversion_credits_store_tracking')

    op.drop_table('conversion_credits')
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_clicks_store_tracking_time')

    op.drop_table('clicks')
    with op.batch_alter_table('storefront_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_storefront_reports_order')
        batch_op.drop_index('ix_storefront_reports_email')
        batch_op.drop_index('ix_storefront_reports_customer')

    op.drop_table('storefront_reports')
    op.drop_table('discounts')
    op.drop_table('customers')
    op.drop_table('campaigns')
