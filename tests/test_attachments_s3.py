"""Attachments in an S3-compatible bucket (ATTACHMENT_STORAGE=s3), against moto's S3
served over real HTTP on loopback: upload, download, thumbnail and orphan cleanup
through the API, and a second server process (its own app, its own empty attachment
folder) serving a file the first one stored — the scale-out point of issue 26."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import update

from support_app.attachments import cleanup
from support_app.attachments.s3 import S3Storage
from support_app.attachments.storage import storage
from support_app.extensions import db
from support_app.models import Attachment, utcnow

from .attachment_helpers import PDF, URL, png_bytes, uploaded

BUCKET = "support-files"
PREFIX = "desk-a/attachments"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto-key", "AWS_SECRET_ACCESS_KEY": "moto-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3 as an HTTP server on loopback, with a bucket; boto3's own credential
    chain (the environment here) reaches it."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def bucket(app, endpoint, tmp_path):
    """The test app configured for s3 (its local folder empty and unused); yields a
    separate client on the bucket to look at what is really stored."""
    import boto3

    settings = {"ATTACHMENT_STORAGE": "s3", "ATTACHMENT_S3_BUCKET": BUCKET,
                "ATTACHMENT_S3_ENDPOINT_URL": endpoint, "ATTACHMENT_S3_PREFIX": PREFIX,
                "ATTACHMENT_STORAGE_PATH": str(tmp_path / "unused")}
    saved = {name: app.config.get(name) for name in settings}
    app.config.update(settings)
    app.extensions.pop("attachment_storage", None)
    yield boto3.client("s3", endpoint_url=endpoint)
    app.config.update(saved)
    app.extensions.pop("attachment_storage", None)


def objects(client) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed}


SECOND_PROCESS = """
import hashlib, json, os, sys
from support_app import create_app
from support_app.config import TestConfig
settings = json.loads(sys.argv[1])
config = TestConfig(settings.pop("DATABASE_URL"))
for name, value in settings.items():
    setattr(config, name, value)
app = create_app(config)
with app.app_context():
    answer = app.test_client().get(os.environ["FILE_URL"],
                                   headers={"Authorization": os.environ["FILE_AUTH"]})
    print(answer.status_code, hashlib.sha256(answer.data).hexdigest())
"""


def test_upload_download_thumbnail_and_cleanup_in_the_bucket(client, factory, app, bucket):
    jane, omar = factory.customer(), factory.customer()
    photo = png_bytes((1200, 900))
    data = uploaded(client, jane, "dented-box.png", photo)
    stored = objects(bucket)
    row = db.session.get(Attachment, data["id"])
    assert stored == {f"{PREFIX}/{row.storage_key}": photo}
    assert not os.path.exists(app.config["ATTACHMENT_STORAGE_PATH"])  # nothing on disk

    response = client.get(f"{URL}/{data['id']}", headers=jane.headers)
    assert response.status_code == 200 and response.data == photo
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"{URL}/{data['id']}", headers=omar.headers).status_code == 404

    thumbnail = client.get(f"{URL}/{data['id']}/thumbnail", headers=jane.headers)
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/png"
    db.session.expire_all()
    row = db.session.get(Attachment, data["id"])
    key = row.storage_key
    assert objects(bucket)[f"{PREFIX}/{row.thumbnail_key}"] == thumbnail.data
    again = client.get(f"{URL}/{data['id']}/thumbnail", headers=jane.headers)
    assert again.data == thumbnail.data and len(objects(bucket)) == 2  # made once

    db.session.execute(update(Attachment).where(Attachment.id == data["id"])
                       .values(created_at=utcnow() - dt.timedelta(days=2)))
    db.session.commit()
    assert cleanup.remove_all_orphans() == 1
    assert objects(bucket) == {}  # the file and its thumbnail
    with pytest.raises(FileNotFoundError):
        storage().read(key)


def test_a_second_process_serves_what_the_first_stored(client, factory, app, bucket,
                                                       endpoint, tmp_path):
    jane = factory.customer()
    data = uploaded(client, jane, "receipt.pdf", PDF)
    settings = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "SECRET_KEY": app.config["SECRET_KEY"],
                "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
                "ATTACHMENT_STORAGE": "s3", "ATTACHMENT_S3_BUCKET": BUCKET,
                "ATTACHMENT_S3_ENDPOINT_URL": endpoint, "ATTACHMENT_S3_PREFIX": PREFIX,
                "ATTACHMENT_STORAGE_PATH": str(tmp_path / "other-host")}
    env = dict(os.environ, FILE_URL=f"{URL}/{data['id']}",
               FILE_AUTH=jane.headers["Authorization"], SUPPORT_INSTANCE_PATH=str(tmp_path))
    answer = subprocess.run([sys.executable, "-c", SECOND_PROCESS, json.dumps(settings)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr[-2000:]
    status, digest = answer.stdout.split()[-2:]
    assert (status, digest) == ("200", hashlib.sha256(PDF).hexdigest())
    assert not os.path.exists(tmp_path / "other-host")


def test_keys_absent_objects_and_configuration(app, bucket, endpoint):
    files = S3Storage(BUCKET, prefix="/other/", endpoint_url=endpoint)
    key = files.save(b"bytes")
    assert files.read(key) == b"bytes" and f"other/{key}" in objects(bucket)
    files.delete(key)
    files.delete(key)  # absent: no error
    with pytest.raises(FileNotFoundError):
        files.read(key)
    for bad in ("../../etc/passwd", "A" * 32, key + "0", "", None):
        with pytest.raises(ValueError):
            files.read(bad)
    with pytest.raises(ValueError):
        S3Storage("", endpoint_url=endpoint)
    with app.app_context():
        app.config["ATTACHMENT_STORAGE"] = "ftp"
        app.extensions.pop("attachment_storage", None)
        with pytest.raises(ValueError):
            storage()
