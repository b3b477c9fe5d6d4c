"""satisfaction surveys: a customer's survey opt-out

The survey email itself is an ordinary outbox row (email_logs, template `csat_survey`)
held back by its `next_attempt_at`; a reopen marks it `cancelled`.

Revision ID: f1c5a7000024
Revises: e9b0c0ffee10
Create Date: 2026-12-04 18:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1c5a7000024'
down_revision = "e9b0c0ffee10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_opt_out', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.create_index('ix_email_logs_ticket_template', ['ticket_id', 'template'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_email_logs_ticket_template')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('survey_opt_out')
