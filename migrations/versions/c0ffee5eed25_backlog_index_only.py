"""backlog counts read the status index alone

The Reports screen counts the backlog as it stood when the range starts: every
unresolved ticket created before it, grouped (per tag it joins on the ticket id).
At a million tickets that is ~40% of the table; on PostgreSQL the
(status, created_at) index now carries the id, so the count is an index-only scan
instead of a scan of the whole table (549 -> 279 ms for the per-tag backlog on the
bench's 1M seed). SQLite's indexes carry the rowid (= id) already.

Revision ID: c0ffee5eed25
Revises: f2a7a11ac0e1
Create Date: 2026-12-04 22:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c0ffee5eed25'
down_revision = 'f2a7a11ac0e1'
branch_labels = None
depends_on = None


def _recreate(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_tickets_status_created', table_name='tickets')
    op.create_index('ix_tickets_status_created', 'tickets', ['status', 'created_at'],
                    unique=False, postgresql_include=include)


def upgrade():
    _recreate(['id'])


def downgrade():
    _recreate([])
