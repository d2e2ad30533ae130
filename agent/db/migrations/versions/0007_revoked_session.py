"""revoked web sessions: a session cookie saved before logging out is refused afterwards

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import agent.db.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows are deleted once their expiry passes (the cookie is refused by then anyway).
    op.create_table('revokedsession',
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('expires_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
    )


def downgrade() -> None:
    op.drop_table('revokedsession')
