"""attachments: one table for uploaded and mailed files, bytes in attachment storage

Revision ID: f1a7c4e00a26
Revises: e9b0c0ffee09
Create Date: 2026-12-04 19:00:00

Mailed files kept so far (`message_attachments`, bytes in the database) move into the
attachment storage (ATTACHMENT_STORAGE_PATH, by default <instance>/attachments) and
onto their messages; downgrade moves them back.
"""
import hashlib
import os
import re
import secrets
from pathlib import Path

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1a7c4e00a26'
down_revision = 'e9b0c0ffee09'
branch_labels = None
depends_on = None


def _root() -> Path:
    try:
        from flask import current_app

        root = current_app.config.get("ATTACHMENT_STORAGE_PATH") or os.path.join(
            current_app.instance_path, "attachments")
    except RuntimeError:  # plain alembic, no Flask app
        root = os.environ.get("ATTACHMENT_STORAGE_PATH") or "instance/attachments"
    return Path(root)


def _save(root: Path, data: bytes) -> str:
    # The layout of support_app.attachments.storage.LocalStorage, as of this revision.
    key = secrets.token_hex(16)
    folder = root / key[:2]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / key).write_bytes(data)
    return key


def upgrade():
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('note_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=127), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('checksum', sa.String(length=64), nullable=False),
        sa.Column('storage_key', sa.String(length=255), nullable=False),
        sa.Column('thumbnail_key', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['ticket_messages.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['note_id'], ['internal_notes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('storage_key'),
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        for column in ('owner_id', 'ticket_id', 'message_id', 'note_id', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_attachments_{column}'), [column], unique=False)

    bind = op.get_bind()
    old = sa.table('message_attachments', sa.column('id', sa.Integer), sa.column('message_id', sa.Integer),
                   sa.column('filename', sa.String), sa.column('content_type', sa.String),
                   sa.column('size', sa.Integer), sa.column('data', sa.LargeBinary),
                   sa.column('created_at', sa.DateTime))
    messages = sa.table('ticket_messages', sa.column('id', sa.Integer), sa.column('ticket_id', sa.Integer),
                        sa.column('attachments', sa.JSON))
    new = sa.table('attachments', *(sa.column(name) for name in (
        'ticket_id', 'message_id', 'filename', 'content_type', 'size', 'checksum', 'storage_key',
        'created_at')))
    root = _root()
    rows = bind.execute(sa.select(old, messages.c.ticket_id)
                        .join(messages, messages.c.id == old.c.message_id)
                        .order_by(old.c.id)).mappings().all()
    for row in rows:
        data = bytes(row['data'])
        bind.execute(new.insert().values(
            ticket_id=row['ticket_id'], message_id=row['message_id'], filename=row['filename'],
            content_type=row['content_type'], size=len(data),
            checksum=hashlib.sha256(data).hexdigest(), storage_key=_save(root, data),
            created_at=row['created_at']))
    ids = sa.table('attachments', sa.column('id', sa.Integer), sa.column('message_id', sa.Integer))
    for message_id in sorted({row['message_id'] for row in rows}):
        found = bind.execute(sa.select(ids.c.id).where(ids.c.message_id == message_id)
                             .order_by(ids.c.id)).scalars().all()
        bind.execute(messages.update().where(messages.c.id == message_id)
                     .values(attachments=[f"/api/attachments/{i}" for i in found]))

    with op.batch_alter_table('message_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_attachments_message_id'))
    op.drop_table('message_attachments')


def downgrade():
    op.create_table(
        'message_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=127), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['ticket_messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('message_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_attachments_message_id'), ['message_id'], unique=False)
    bind = op.get_bind()
    root = _root()
    files = sa.table('attachments', *(sa.column(name) for name in (
        'message_id', 'filename', 'content_type', 'size', 'storage_key', 'created_at')))
    old = sa.table('message_attachments', *(sa.column(name) for name in (
        'message_id', 'filename', 'content_type', 'size', 'data', 'created_at')))
    for row in bind.execute(sa.select(files).where(files.c.message_id.is_not(None))).mappings():
        key = row['storage_key']
        path = root / key[:2] / key
        if re.fullmatch(r'[0-9a-f]{32}', key) and path.exists():
            bind.execute(old.insert().values(
                message_id=row['message_id'], filename=row['filename'],
                content_type=row['content_type'], size=row['size'], data=path.read_bytes(),
                created_at=row['created_at']))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        for column in ('owner_id', 'ticket_id', 'message_id', 'note_id', 'created_at'):
            batch_op.drop_index(batch_op.f(f'ix_attachments_{column}'))
    op.drop_table('attachments')
