"""workers: each worker process's heartbeat (connector workers, /readyz)

Revision ID: 20261203_workers
Revises: 20261202_merchant_app
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261203_workers'
down_revision = '20261202_merchant_app'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
    sa.Column('worker_id', sa.String(length=100), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_workers'))
    )


def downgrade() -> None:
    op.drop_table('workers')
