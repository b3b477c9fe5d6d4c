"""tickets status priority index

Staff lists filtered by status and priority count their rows for the exact page
total (the desk counters answer status-only filters); without this index that
COUNT scans the whole table.

Revision ID: 329867fa1863
Revises: 419d8a88c8e3
Create Date: 2026-11-22 11:41:51.992259

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '329867fa1863'
down_revision = '419d8a88c8e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_status_priority', 'tickets', ['status', 'priority'], unique=False)


def downgrade():
    op.drop_index('ix_tickets_status_priority', table_name='tickets')
