"""report indexes

Reports count what happened in a date range: first responses, resolutions and
ratings given. Each figure reads one of these timestamps by range, so each gets
an index (created_at already has one).

Revision ID: e7e90a7500a1
Revises: f1c5a7000024
Create Date: 2026-12-04 18:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7e90a7500a1'
down_revision = "f1c5a7000024"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_first_response', 'tickets', ['first_response_at'], unique=False)
    op.create_index('ix_tickets_resolved', 'tickets', ['resolved_at'], unique=False)
    op.create_index('ix_feedback_created', 'feedback', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_feedback_created', table_name='feedback')
    op.drop_index('ix_tickets_resolved', table_name='tickets')
    op.drop_index('ix_tickets_first_response', table_name='tickets')
