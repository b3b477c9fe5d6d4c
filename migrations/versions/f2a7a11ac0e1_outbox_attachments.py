"""outbound email attachments: the files a queued email carries, by attachment id

A staff reply's email names its files' ids (`email_logs.attachment_ids`); the sender
reads their bytes from the attachment storage when it sends, so the durable outbox row
is enough to rebuild the email on any process.

Revision ID: f2a7a11ac0e1
Revises: e5a1a0000022
Create Date: 2026-12-04 22:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f2a7a11ac0e1'
down_revision = 'e5a1a0000022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_ids', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.drop_column('attachment_ids')
