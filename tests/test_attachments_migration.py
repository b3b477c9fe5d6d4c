"""The attachments migration moves files kept in the database (`message_attachments`)
into the attachment storage and onto their messages, and back on downgrade. Run in a
child process on a SQLite file of its own (the session's database stays at head)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import hashlib, sys
    from pathlib import Path
    from sqlalchemy import select, text
    from support_app import create_app
    from support_app.config import TestConfig
    from flask_migrate import upgrade, downgrade

    config = TestConfig("sqlite:///" + sys.argv[1])
    config.ATTACHMENT_STORAGE_PATH = sys.argv[2]
    app = create_app(config)
    with app.app_context():
        from support_app.bootstrap import sync_permissions
        from support_app.extensions import db
        from support_app.models import Attachment, Message
        from support_app.tickets import service
        from support_app.tickets.actor import Actor
        from support_app.models import Customer
        upgrade()
        sync_permissions()
        customer = Customer(name="Jane", email="jane@example.org")
        db.session.add(customer); db.session.commit()
        ticket = service.open_ticket(Actor.system("email"), customer_id=customer.id,
                                     subject="Broken", description="Photo", channel="email").ticket
        db.session.remove()
        # The world before this release: a mailed file in message_attachments.
        downgrade(revision="e9b0c0ffee09")
        data = b"\\x89PNG\\r\\n\\x1a\\n" + b"1" * 300
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO ticket_messages (ticket_id, sender_type, body, channel, "
                              "is_read, created_at, updated_at) VALUES (:t, 'customer', 'hi', "
                              "'email', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"t": ticket.id})
            message_id = conn.execute(text("SELECT max(id) FROM ticket_messages")).scalar()
            conn.execute(text("INSERT INTO message_attachments (message_id, filename, content_type, "
                              "size, data, created_at) VALUES (:m, 'lid.png', 'image/png', :s, :d, "
                              "CURRENT_TIMESTAMP)"), {"m": message_id, "s": len(data), "d": data})
        upgrade()
        row = db.session.scalar(select(Attachment))
        assert (row.message_id, row.ticket_id, row.filename) == (message_id, ticket.id, "lid.png")
        assert row.checksum == hashlib.sha256(data).hexdigest()
        path = Path(sys.argv[2]) / row.storage_key[:2] / row.storage_key
        assert path.read_bytes() == data
        assert db.session.get(Message, message_id).attachments == [f"/api/attachments/{row.id}"]
        db.session.remove()
        downgrade(revision="e9b0c0ffee09")
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT message_id, filename, data FROM message_attachments")).all()
        assert [(m, f, bytes(d)) for m, f, d in back] == [(message_id, "lid.png", data)]
        upgrade()
    print("migrated")
''')


def test_stored_files_move_into_storage_and_back(tmp_path):
    env = {**os.environ, "SUPPORT_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "old.db"), str(tmp_path / "files")],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0 and "migrated" in result.stdout, result.stderr[-3000:]
