"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 15:14:28.133347
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import agent.db.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('creator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('persona', sa.JSON(), nullable=False),
    sa.Column('calendar_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('reel_length_s', sa.Integer(), nullable=False),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('creator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_creator_handle'), ['handle'], unique=True)

    op.create_table('avatar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('photo_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('photo_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('consent_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('consent_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('consent_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('analysis', sa.JSON(), nullable=False),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('avatar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_avatar_name'), ['name'], unique=True)

    op.create_table('slot',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('local_time', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('peak', sa.Boolean(), nullable=False),
    sa.Column('pillar', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('brief', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('brief_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slot_creator_id'), ['creator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slot_scheduled_at'), ['scheduled_at'], unique=False)

    op.create_table('voiceprofile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('sample_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sample_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('consent_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('consent_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('consent_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('artifacts', sa.JSON(), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.Column('words_per_minute', sa.Float(), nullable=True),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('voiceprofile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voiceprofile_name'), ['name'], unique=True)

    op.create_table('reel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('hook', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('script', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('on_screen_title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('caption', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('hashtags', sa.JSON(), nullable=False),
    sa.Column('cta', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('feedback', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('artifacts', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failed_stage', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('next_attempt_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('claimed_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('publish_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('media_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('permalink', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('published_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('approved_at', agent.db.models.UTCDateTime(), nullable=True),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], ),
    sa.ForeignKeyConstraint(['slot_id'], ['slot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reel_creator_id'), ['creator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reel_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reel_status'), ['status'], unique=False)

    op.create_table('reelevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reel_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['reel_id'], ['reel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reelevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reelevent_reel_id'), ['reel_id'], unique=False)

    op.create_table('scriptversion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reel_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('hook', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('script', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('on_screen_title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('caption', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('hashtags', sa.JSON(), nullable=False),
    sa.Column('cta', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', agent.db.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['reel_id'], ['reel.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reel_id', 'version')
    )
    with op.batch_alter_table('scriptversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scriptversion_reel_id'), ['reel_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('scriptversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scriptversion_reel_id'))

    op.drop_table('scriptversion')
    with op.batch_alter_table('reelevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reelevent_reel_id'))

    op.drop_table('reelevent')
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reel_status'))
        batch_op.drop_index(batch_op.f('ix_reel_slot_id'))
        batch_op.drop_index(batch_op.f('ix_reel_creator_id'))

    op.drop_table('reel')
    with op.batch_alter_table('voiceprofile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voiceprofile_name'))

    op.drop_table('voiceprofile')
    with op.batch_alter_table('slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slot_scheduled_at'))
        batch_op.drop_index(batch_op.f('ix_slot_creator_id'))

    op.drop_table('slot')
    with op.batch_alter_table('avatar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_avatar_name'))

    op.drop_table('avatar')
    with op.batch_alter_table('creator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_creator_handle'))

    op.drop_table('creator')

