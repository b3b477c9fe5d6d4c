"""service members: the customers who share an order, ride or booking

Seed 004's `groupCustomerIds` may name only them (the commerce sync carries them).

Revision ID: e3c1a9b00003
Revises: e8a51a000008
Create Date: 2026-12-04 16:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3c1a9b00003'
down_revision = 'e8a51a000008'
branch_labels = None
depends_on = None

ONE_SERVICE = ('(CASE WHEN order_id IS NULL THEN 0 ELSE 1 END) + '
               '(CASE WHEN ride_id IS NULL THEN 0 ELSE 1 END) + '
               '(CASE WHEN booking_id IS NULL THEN 0 ELSE 1 END) = 1')


def upgrade():
    op.create_table(
        'service_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('ride_id', sa.Integer(), nullable=True),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(ONE_SERVICE, name='ck_service_members_one_service'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ride_id'], ['rides.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id', 'customer_id', name='uq_service_members_order'),
        sa.UniqueConstraint('ride_id', 'customer_id', name='uq_service_members_ride'),
        sa.UniqueConstraint('booking_id', 'customer_id', name='uq_service_members_booking'),
    )
    op.create_index('ix_service_members_customer_id', 'service_members', ['customer_id'])


def downgrade():
    op.drop_index('ix_service_members_customer_id', table_name='service_members')
    op.drop_table('service_members')
