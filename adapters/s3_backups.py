"""Backup files in an S3-compatible bucket (AWS S3, MinIO, Ceph, Backblaze B2, …), by boto3.

The hub writes a backup file locally first (:mod:`storage.backup`), then this module puts
it at ``s3://bucket/prefix/<file name>``, lists what is there and deletes what is past
its time. The endpoint, region and keys come from the caller (``web.config.Settings``);
without keys, boto3's own chain (its environment variables, a profile, an instance role)
applies. boto3 is synchronous: callers run these functions in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class S3Error(Exception):
    """The bucket cannot be used; the message is one sentence, without keys."""


@dataclass(frozen=True, slots=True)
class S3Target:
    bucket: str
    prefix: str  # "" or ending in "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + name


def parse_target(url: str) -> S3Target:
    """``s3://bucket/some/prefix`` as a target; ValueError with a sentence otherwise."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL.")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket or not all(c.isalnum() or c in "-." for c in bucket):
        raise ValueError(f"{url!r} names no valid bucket.")
    prefix = prefix.strip("/")
    return S3Target(bucket, prefix + "/" if prefix else "")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None


def client(endpoint: Endpoint) -> Any:
    """A boto3 S3 client for ``endpoint`` (path-style addressing, which every
    S3-compatible server understands)."""
    options: dict[str, Any] = {
        "endpoint_url": endpoint.url,
        "region_name": endpoint.region,
        "config": Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        ),
    }
    if endpoint.access_key_id and endpoint.secret_access_key:
        options["aws_access_key_id"] = endpoint.access_key_id
        options["aws_secret_access_key"] = endpoint.secret_access_key
    return boto3.session.Session().client("s3", **options)


def _fail(action: str, target: S3Target, exc: Exception) -> S3Error:
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__  # the transfer manager wraps the server's answer
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "error")
        return S3Error(f"Cannot {action} {target.url}: the server answered {code}.")
    return S3Error(f"Cannot {action} {target.url}: {type(exc).__name__}.")


def upload(s3: Any, target: S3Target, path: Path) -> str:
    """Put the file ``path`` under the target's prefix; returns its key."""
    key = target.key(path.name)
    try:
        s3.upload_file(str(path), target.bucket, key)
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        raise _fail("write to", target, exc) from None
    return key


def download(s3: Any, target: S3Target, name: str, path: Path) -> bool:
    """Fetch the object ``name`` under the prefix to ``path``; False when there is none."""
    try:
        s3.download_file(target.bucket, target.key(name), str(path))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise _fail("read from", target, exc) from None
    except BotoCoreError as exc:
        raise _fail("read from", target, exc) from None
    return True


def names(s3: Any, target: S3Target) -> list[str]:
    """The file names directly under the prefix."""
    found: list[str] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=target.bucket, Prefix=target.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                rest = str(item["Key"])[len(target.prefix) :]
                if rest and "/" not in rest:
                    found.append(rest)
    except (BotoCoreError, ClientError) as exc:
        raise _fail("list", target, exc) from None
    return sorted(found)


def delete(s3: Any, target: S3Target, files: list[str]) -> None:
    for name in files:
        try:
            s3.delete_object(Bucket=target.bucket, Key=target.key(name))
        except (BotoCoreError, ClientError) as exc:
            raise _fail("delete from", target, exc) from None
