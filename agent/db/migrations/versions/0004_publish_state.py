"""publish state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 16:14:31.205037
"""
from alembic import op
import sqlalchemy as sa
import agent.db.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_state', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))  # existing rows get {}
        batch_op.add_column(sa.Column('publish_at', agent.db.models.UTCDateTime(), nullable=True))
    # The default only fills existing rows; new rows get theirs from the application.
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.alter_column('publish_state', server_default=None)



def downgrade() -> None:
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.drop_column('publish_at')
        batch_op.drop_column('publish_state')

