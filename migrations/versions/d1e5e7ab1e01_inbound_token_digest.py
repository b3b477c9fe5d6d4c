"""inbound tokens remember the delivery they came with

Mailgun signs timestamp+token, not the mail. The token memory now keeps a digest of
the delivery, so Mailgun's retry of a delivery the desk failed is accepted (nothing to
forget on failure, so no mail is lost when forgetting fails too) while another mail
under a captured signature is still refused. Tokens remembered before this have no
digest: they stay refused, as before.

Revision ID: d1e5e7ab1e01
Revises: c0ffee5eed25
Create Date: 2026-12-05 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd1e5e7ab1e01'
down_revision = 'c0ffee5eed25'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('inbound_tokens', sa.Column('digest', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('inbound_tokens') as batch_op:
        batch_op.drop_column('digest')
