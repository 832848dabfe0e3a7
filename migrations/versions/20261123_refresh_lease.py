"""refresh lease and trigger time: token refreshes hold no database lock across the HTTP call, and
events keep when the platform says they happened (a retried delivery can arrive hours later)

Revision ID: 20261123_refresh_lease
Revises: 20261123_installs
Create Date: 2026-11-23 14:30:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261123_refresh_lease'
down_revision = '20261123_installs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_refresh_until', connector.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triggered_at', connector.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('triggered_at')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('token_refresh_until')
