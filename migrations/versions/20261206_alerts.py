"""alerts: what the operator must act on, raised once, resolved when it ends, told to CONNECTOR_ALERT_URL

Revision ID: 20261206_alerts
Revises: 20261205_webhook_health
Create Date: 2026-12-06 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261206_alerts'
down_revision = '20261205_webhook_health'
branch_labels = None
depends_on = None

UNIQUE_WHILE = "resolved_at IS NULL OR kind = 'events_failed'"


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('raised_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('noticed', sa.String(length=20), nullable=True),
    sa.Column('notice_due_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notice_attempts', sa.Integer(), nullable=False),
    sa.Column('notice_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_alerts_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index('uq_alerts_open', 'alerts', ['kind', 'subject'], unique=True,
                    postgresql_where=sa.text(UNIQUE_WHILE), sqlite_where=sa.text(UNIQUE_WHILE))
    op.create_index('ix_alerts_notice_due', 'alerts', ['notice_due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_notice_due', table_name='alerts')
    op.drop_index('uq_alerts_open', table_name='alerts')
    op.drop_table('alerts')
