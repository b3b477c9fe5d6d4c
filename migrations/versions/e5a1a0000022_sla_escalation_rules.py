"""SLA escalation rules: what happens when a target turns at risk or breached

Revision ID: e5a1a0000022
Revises: e9c1a7a90023
Create Date: 2026-12-04 18:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1a0000022'
down_revision = "e9c1a7a90023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sla_escalation_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('on_state', sa.String(length=10), nullable=False),
        sa.Column('target', sa.String(length=20), nullable=True),
        sa.Column('priority', sa.String(length=10), nullable=True),
        sa.Column('category', sa.String(length=30), nullable=True),
        sa.Column('raise_priority', sa.Boolean(), nullable=False),
        sa.Column('escalate', sa.Boolean(), nullable=False),
        sa.Column('reassign', sa.Boolean(), nullable=False),
        sa.Column('notify_managers', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("on_state IN ('at_risk', 'breached')", name='ck_sla_rules_on_state'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )


def downgrade():
    op.drop_table('sla_escalation_rules')
