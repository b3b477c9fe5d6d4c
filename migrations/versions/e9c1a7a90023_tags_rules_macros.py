"""tags, ticket tags, auto-tag rules and macros

Revision ID: e9c1a7a90023
Revises: e7e90a7500a1
Create Date: 2026-12-04 18:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e9c1a7a90023'
down_revision = "e7e90a7500a1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('name_key', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name_key'),
    )
    op.create_table(
        'ticket_tags',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id', 'tag_id'),
    )
    op.create_index('ix_ticket_tags_tag', 'ticket_tags', ['tag_id', 'ticket_id'], unique=False)
    op.create_table(
        'auto_tag_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('match', sa.String(length=10), nullable=False),
        sa.Column('expression', sa.String(length=500), nullable=False),
        sa.Column('field', sa.String(length=15), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'macros',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('body_en', sa.Text(), nullable=True),
        sa.Column('body_es', sa.Text(), nullable=True),
        sa.Column('body_fr', sa.Text(), nullable=True),
        sa.Column('body_ar', sa.Text(), nullable=True),
        sa.Column('body_bn', sa.Text(), nullable=True),
        sa.Column('set_status', sa.String(length=20), nullable=True),
        sa.Column('set_priority', sa.String(length=10), nullable=True),
        sa.Column('add_tags', sa.String(length=500), nullable=True),
        sa.Column('remove_tags', sa.String(length=500), nullable=True),
        sa.Column('assign_to_me', sa.Boolean(), nullable=False),
        sa.Column('internal_note', sa.Text(), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )


def downgrade():
    op.drop_table('macros')
    op.drop_table('auto_tag_rules')
    op.drop_index('ix_ticket_tags_tag', table_name='ticket_tags')
    op.drop_table('ticket_tags')
    op.drop_table('tags')
