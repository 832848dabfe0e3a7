"""installs

Revision ID: 20261123_installs
Revises: 20261123_spine
Create Date: 2026-11-23 13:17:15.129344
"""

from alembic import op
import sqlalchemy as sa
import connector.models


revision = '20261123_installs'
down_revision = '20261123_spine'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('used_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('used_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_used_nonces'))
    )
    op.create_table('privacy_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', connector.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', connector.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('export', sa.JSON(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_privacy_requests_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests'))
    )
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_requests_store_id'), ['store_id'], unique=False)

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('access_token_expires_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('refresh_token_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('refresh_token_expires_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('installed_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('uninstalled_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        # Existing stores have nothing to set up: the default only fills their rows.
        batch_op.add_column(sa.Column('setup_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('setup_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('setup_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reconciled_at', connector.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('maintenance_lease_until', connector.models.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('maintenance_lease_until')
        batch_op.drop_column('reconciled_at')
        batch_op.drop_column('setup_at')
        batch_op.drop_column('setup_error')
        batch_op.drop_column('setup_pending')
        batch_op.drop_column('uninstalled_at')
        batch_op.drop_column('installed_at')
        batch_op.drop_column('scopes')
        batch_op.drop_column('refresh_token_expires_at')
        batch_op.drop_column('refresh_token_encrypted')
        batch_op.drop_column('access_token_expires_at')
        batch_op.drop_column('status_reason')

    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_requests_store_id'))

    op.drop_table('privacy_requests')
    op.drop_table('used_nonces')
