"""creator plan basis: what a creator's slots were last planned from, so a restarted scheduler skips unchanged calendars

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import agent.db.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('creator') as batch:
        batch.add_column(sa.Column('planned_basis', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column('planned_until', agent.db.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('creator') as batch:
        batch.drop_column('planned_until')
        batch.drop_column('planned_basis')
