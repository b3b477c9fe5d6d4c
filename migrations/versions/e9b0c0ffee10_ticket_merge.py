"""merged tickets: a pointer from the merged ticket to the one it was merged into

Revision ID: e9b0c0ffee10
Revises: f1a7c4e00a26
Create Date: 2026-12-04 18:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e9b0c0ffee10'
down_revision = "f1a7c4e00a26"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_tickets_merged_into_id_tickets', 'tickets',
                                 ['merged_into_id'], ['id'], ondelete='SET NULL')
        batch.create_index('ix_tickets_merged_into', ['merged_into_id'])


def downgrade():
    with op.batch_alter_table('tickets') as batch:
        batch.drop_index('ix_tickets_merged_into')
        batch.drop_constraint('fk_tickets_merged_into_id_tickets', type_='foreignkey')
        batch.drop_column('merged_into_id')
