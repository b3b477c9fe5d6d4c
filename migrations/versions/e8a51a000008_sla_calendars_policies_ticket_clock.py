"""SLA calendars, policies and the clock stored on tickets

Revision ID: e8a51a000008
Revises: e1a11d0e0001
Create Date: 2026-12-04 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e8a51a000008'
down_revision = 'e1a11d0e0001'
branch_labels = None
depends_on = None

TARGETS = ('first_response', 'next_response', 'resolution')


def upgrade():
    op.create_table(
        'sla_calendars',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('hours', sa.JSON(), nullable=False),
        sa.Column('holidays', sa.JSON(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_index('uq_sla_calendars_default', 'sla_calendars', ['is_default'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table(
        'sla_policies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('priority', sa.String(length=10), nullable=True),
        sa.Column('category', sa.String(length=30), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('service_type', sa.String(length=20), nullable=True),
        sa.Column('calendar_id', sa.Integer(), nullable=True),
        sa.Column('first_response_minutes', sa.Integer(), nullable=True),
        sa.Column('next_response_minutes', sa.Integer(), nullable=True),
        sa.Column('resolution_minutes', sa.Integer(), nullable=True),
        sa.Column('at_risk_percent', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('at_risk_percent BETWEEN 1 AND 99', name='ck_sla_policies_at_risk'),
        sa.CheckConstraint('first_response_minutes > 0', name='ck_sla_policies_first_response'),
        sa.CheckConstraint('next_response_minutes > 0', name='ck_sla_policies_next_response'),
        sa.CheckConstraint('resolution_minutes > 0', name='ck_sla_policies_resolution'),
        sa.ForeignKeyConstraint(['calendar_id'], ['sla_calendars.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.add_column(sa.Column('sla_policy_id', sa.Integer(), nullable=True))
        for target in TARGETS:
            batch_op.add_column(sa.Column(f'{target}_due_at', sa.DateTime(), nullable=True))
            batch_op.add_column(sa.Column(f'{target}_state', sa.String(length=10), nullable=True))
            batch_op.add_column(sa.Column(f'{target}_breached', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
        batch_op.add_column(sa.Column('sla_paused_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sla_check_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_tickets_sla_due', ['sla_due_at'], unique=False)
        batch_op.create_index('ix_tickets_sla_state_due', ['sla_state', 'sla_due_at'], unique=False)
        batch_op.create_index('ix_tickets_sla_check', ['sla_check_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_index('ix_tickets_sla_check')
        batch_op.drop_index('ix_tickets_sla_state_due')
        batch_op.drop_index('ix_tickets_sla_due')
        for column in ('sla_check_at', 'sla_state', 'sla_due_at', 'sla_paused_at'):
            batch_op.drop_column(column)
        for target in reversed(TARGETS):
            for suffix in ('breached', 'state', 'due_at'):
                batch_op.drop_column(f'{target}_{suffix}')
        batch_op.drop_column('sla_policy_id')
    op.drop_table('sla_policies')
    op.drop_index('uq_sla_calendars_default', table_name='sla_calendars')
    op.drop_table('sla_calendars')
