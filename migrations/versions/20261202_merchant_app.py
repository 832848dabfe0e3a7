"""merchant app: what setup found in each store (the onboarding list), and the indexes its lists page by

Revision ID: 20261202_merchant_app
Revises: 20261201_trust
Create Date: 2026-12-02 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '20261202_merchant_app'
down_revision = '20261201_trust'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setup_report', sa.JSON(), nullable=True))
    # Stores set up before this recorded no findings: their setup runs once more (it is idempotent) so the
    # onboarding list reads what the store holds, not an assumption.
    op.execute(sa.text("UPDATE stores SET setup_pending = :yes WHERE status = 'active' AND setup_at IS NOT NULL")
               .bindparams(yes=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_store_seen', ['store_id', 'first_seen_at'], unique=False)
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.create_index('ix_conversions_store_status', ['store_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_conversions_store_created', ['store_id', 'created_at'], unique=False)
        batch_op.create_index('ix_conversions_order', ['order_id'], unique=False)
    with op.batch_alter_table('conversion_credits', schema=None) as batch_op:
        batch_op.create_index('ix_conversion_credits_store_created', ['store_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversion_credits', schema=None) as batch_op:
        batch_op.drop_index('ix_conversion_credits_store_created')
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.drop_index('ix_conversions_order')
        batch_op.drop_index('ix_conversions_store_created')
        batch_op.drop_index('ix_conversions_store_status')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_store_seen')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('setup_report')
