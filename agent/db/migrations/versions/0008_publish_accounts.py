"""publishing accounts per creator: each calendar handle publishes to its own account, its secret encrypted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import agent.db.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows: an install keeps publishing with the single account in its settings until one is connected
    # (`reeltwin account connect HANDLE --from-settings` turns that account into the creator's row).
    op.create_table('publishaccount',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('ig_user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('api_base', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('outbox_dir', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('token_expires_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('token_refreshed_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('refresh_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('checked_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('check_result', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('publishaccount', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publishaccount_handle'), ['handle'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('publishaccount', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publishaccount_handle'))
    op.drop_table('publishaccount')
