"""footage avatars: an avatar has a kind (photo | footage) and one per creator is the default for renders

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing avatars are photos; none is marked default (renders then take the creator's newest).
    with op.batch_alter_table('avatar', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='photo'))
        batch_op.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('avatar', schema=None) as batch_op:
        batch_op.drop_column('is_default')
        batch_op.drop_column('kind')
