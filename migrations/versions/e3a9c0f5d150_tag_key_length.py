"""a tag's case-folded key holds any 50-character name

Case folding can turn one character into up to three ("ß" → "ss", "ﬃ" → "ffi"), so the
key of a valid 50-character name did not fit the 50-character `tags.name_key`: on
PostgreSQL such a tag failed to save. The key column is now three times the name's.

Revision ID: e3a9c0f5d150
Revises: d1e5e7ab1e01
Create Date: 2026-12-05 15:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e3a9c0f5d150'
down_revision = 'd1e5e7ab1e01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tags') as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=50),
                              type_=sa.String(length=150), existing_nullable=False)


def downgrade():
    # PostgreSQL refuses this while a longer key exists: nothing is cut short.
    with op.batch_alter_table('tags') as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=150),
                              type_=sa.String(length=50), existing_nullable=False)
