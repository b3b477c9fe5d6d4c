"""Attachment bytes in an S3-compatible bucket (ATTACHMENT_STORAGE=s3), so that every
server process, on any host, reads the files any other one stored.

The same keys and semantics as `LocalStorage`: a key is 32 hex digits this app made
(checked before any request), stored as the object `<prefix><key>`; reading an absent
key raises FileNotFoundError; deleting one is no error. Credentials are boto3's own
(environment, shared config, instance role): this module never sees or logs them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .storage import checked, new_key

ABSENT = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 client: Any = None) -> None:
        if not bucket:
            raise ValueError("ATTACHMENT_S3_BUCKET is required with ATTACHMENT_STORAGE=s3")
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Storage:
        return cls(config.get("ATTACHMENT_S3_BUCKET") or "",
                   prefix=config.get("ATTACHMENT_S3_PREFIX") or "",
                   endpoint_url=config.get("ATTACHMENT_S3_ENDPOINT_URL") or None)

    def name(self, key: str) -> str:
        """The object name of a key (ValueError for anything that is not our key)."""
        return self.prefix + checked(key)

    def save(self, data: bytes) -> str:
        key = new_key()
        self.client.put_object(Bucket=self.bucket, Key=self.name(key), Body=data,
                               ContentType="application/octet-stream")
        return key

    def read(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ABSENT:
                raise FileNotFoundError(key) from None
            raise
        with answer["Body"] as body:
            return body.read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.name(key))
