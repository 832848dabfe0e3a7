"""attribution depth: returning customers, renewals, order edits, and the record's details

Revision ID: 20261207_attribution_depth
Revises: 20261206_alerts
Create Date: 2026-12-07 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261207_attribution_depth'
down_revision = '20261206_alerts'
branch_labels = None
depends_on = None

OLD_DEFAULT = 'promo_code,click,landing_page'
NEW_DEFAULT = 'renewal,promo_code,click,landing_page,customer'


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lifetime_days', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('renewals', sa.String(length=20), server_default='credit', nullable=False))
    # Stores still on the old default get the new one (renewals first, returning customers last); a store whose
    # merchant chose an order keeps it, and the new kinds come after it (attribution.ordered_kinds).
    op.execute(sa.text("UPDATE stores SET precedence = :new WHERE precedence = :old")
               .bindparams(new=NEW_DEFAULT, old=OLD_DEFAULT))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ordered_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('taxes_included', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('starts_subscription', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('base_as_of', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('adjusted_base', connector.models.DecimalAmount(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_orders_store_customer', ['store_id', 'customer_id'])
        batch_op.create_index('ix_orders_store_email', ['store_id', 'customer_email_sha256'])
    with op.batch_alter_table('attribution_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attribution_records', schema=None) as batch_op:
        batch_op.drop_column('details')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_store_email')
        batch_op.drop_index('ix_orders_store_customer')
        batch_op.drop_column('adjusted_base')
        batch_op.drop_column('base_as_of')
        batch_op.drop_column('starts_subscription')
        batch_op.drop_column('taxes_included')
        batch_op.drop_column('ordered_at')
    op.execute(sa.text("UPDATE stores SET precedence = :old WHERE precedence = :new")
               .bindparams(new=NEW_DEFAULT, old=OLD_DEFAULT))
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('renewals')
        batch_op.drop_column('lifetime_days')
