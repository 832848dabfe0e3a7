"""webhook health: the worker's daily check of each store's subscriptions, and what it mended

Revision ID: 20261205_webhook_health
Revises: 20261204_retention_indexes
Create Date: 2026-12-05 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261205_webhook_health'
down_revision = '20261204_retention_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stores set up before this have no check time: the worker checks them at once (a day after their setup,
    # which is long past), so what went wrong before the deploy is mended on its first day.
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhooks_checked_at', connector.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('webhooks_repaired', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('webhooks_repaired_at', connector.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('webhooks_check_error', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('webhooks_check_error')
        batch_op.drop_column('webhooks_repaired_at')
        batch_op.drop_column('webhooks_repaired')
        batch_op.drop_column('webhooks_checked_at')
