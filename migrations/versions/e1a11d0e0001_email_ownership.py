"""email ownership: confirmed addresses, unverified tickets

`ab_user.email_confirmed_at`: when the user proved they own their address (existing
accounts are taken as confirmed: they were created before confirmation existed).
`tickets.unverified_reason`: why the desk cannot tell who wrote a ticket (NULL:
verified); such tickets are for staff only.

Revision ID: e1a11d0e0001
Revises: e2b5e55100a2
Create Date: 2026-12-04 15:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e1a11d0e0001'
down_revision = 'e2b5e55100a2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ab_user') as batch:
        batch.add_column(sa.Column('email_confirmed_at', sa.DateTime(), nullable=True))
    op.execute(sa.text("UPDATE ab_user SET email_confirmed_at = CURRENT_TIMESTAMP"))
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('unverified_reason', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('unverified_reason')
    with op.batch_alter_table('ab_user') as batch:
        batch.drop_column('email_confirmed_at')
