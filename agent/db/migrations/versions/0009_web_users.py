"""web users: several logins, each with every creator or a list of handles

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The existing login (the single "creator" account) keeps seeing every creator: one-creator installs do not change.
    op.add_column('webaccount', sa.Column('all_creators', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table('webaccountcreator',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['webaccount.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'handle')
    )
    op.create_index('ix_webaccountcreator_handle', 'webaccountcreator', ['handle'])


def downgrade() -> None:
    op.drop_index('ix_webaccountcreator_handle', table_name='webaccountcreator')
    op.drop_table('webaccountcreator')
    with op.batch_alter_table('webaccount') as batch:
        batch.drop_column('all_creators')
