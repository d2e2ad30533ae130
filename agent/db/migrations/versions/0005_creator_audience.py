"""creator audience

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 16:38:33.232434
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('creator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    # The default only fills existing rows; new rows get theirs from the application.
    with op.batch_alter_table('creator', schema=None) as batch_op:
        batch_op.alter_column('audience', server_default=None)



def downgrade() -> None:
    with op.batch_alter_table('creator', schema=None) as batch_op:
        batch_op.drop_column('audience')

