"""one live reel per slot

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 15:32:02.721565
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.create_index('uq_reel_live_slot', ['slot_id'], unique=True, sqlite_where=sa.text("status NOT IN ('rejected', 'skipped')"), postgresql_where=sa.text("status NOT IN ('rejected', 'skipped')"))



def downgrade() -> None:
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.drop_index('uq_reel_live_slot', sqlite_where=sa.text("status NOT IN ('rejected', 'skipped')"), postgresql_where=sa.text("status NOT IN ('rejected', 'skipped')"))

