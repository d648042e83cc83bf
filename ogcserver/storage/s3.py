"""S3-compatible object storage: how ogcserver names objects and reaches the service.

Sources are named ``s3://bucket/key``; GDAL reads them as ``/vsis3/bucket/key`` (see
``readers/remote.py``), and the tile cache writes through boto3 (``cache/s3_store.py``). Both
take their endpoint, region, addressing style and credentials from one ``S3Endpoint``; a value
left unset falls back to the standard AWS environment variables and files, as boto3 and GDAL
read them. Secrets are kept out of ``repr`` so that no log line or dump can carry them.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ogcserver.model.object_urls import SCHEME, is_object_url, split_url


@dataclass(frozen=True)
class S3Endpoint:
    """Where and as whom to reach the object store (settings ``storage.s3``)."""

    endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000; None: AWS itself
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    virtual_hosting: bool = False  # bucket.host/key instead of host/bucket/key
    read_cache_bytes: int = 64 << 20  # GDAL's cache of ranges read from objects, per process


def gdal_path(path: str) -> str:
    """The name GDAL opens a source by: ``/vsis3/bucket/key`` for an object, else the path itself."""
    return "/vsis3/" + path.removeprefix(SCHEME) if is_object_url(path) else path


def gdal_options(endpoint: S3Endpoint) -> dict[str, str]:
    """GDAL's /vsis3/ options for this endpoint; unset values are left to GDAL's own lookup."""
    options = {"AWS_VIRTUAL_HOSTING": "TRUE" if endpoint.virtual_hosting else "FALSE"}
    if endpoint.endpoint_url:
        parts = urlsplit(endpoint.endpoint_url)
        options["AWS_S3_ENDPOINT"] = parts.netloc + parts.path.rstrip("/")
        options["AWS_HTTPS"] = "NO" if parts.scheme == "http" else "YES"
    for key, value in (("AWS_REGION", endpoint.region), ("AWS_ACCESS_KEY_ID", endpoint.access_key_id),
                       ("AWS_SECRET_ACCESS_KEY", endpoint.secret_access_key),
                       ("AWS_SESSION_TOKEN", endpoint.session_token)):
        if value:
            options[key] = value
    return options


def head(clients: Clients, url: str) -> tuple[float, int]:
    """(modification time, size) of an object, asked of the store itself (not GDAL's cache, which
    keeps serving the ranges it holds); OSError when it cannot be reached."""
    bucket, key = split_url(url)
    try:
        answer = clients.get().head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - botocore's errors: missing, forbidden, unreachable
        raise OSError(2, f"no such object, or it cannot be reached ({type(exc).__name__})") from None
    return answer["LastModified"].timestamp(), int(answer["ContentLength"])


def open_object(clients: Clients, url: str) -> tuple[BinaryIO, int]:
    """A stream of the object's bytes (read as it is consumed, so memory stays flat whatever its
    size) and its size; OSError when it cannot be reached."""
    bucket, key = split_url(url)
    try:
        answer = clients.get().get_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - botocore's errors: missing, forbidden, unreachable
        raise OSError(2, f"no such object, or it cannot be reached ({type(exc).__name__})") from None
    return answer["Body"], int(answer["ContentLength"])


def error_code(exc: Exception) -> str:
    """The S3 error code of a failed client call (``NoSuchKey``, ``PreconditionFailed``, ...)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def listed(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object entry (Key, Size, LastModified) under a prefix, a thousand per request."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def list_objects(clients: Clients, url: str, pattern: str) -> list[tuple[str, float, int]]:
    """(URL, modification time, size) of every object under the prefix ``url`` whose name matches
    ``pattern`` (case-insensitive), sorted, hidden names (a dot first) left out as in a folder;
    OSError when the store cannot be reached."""
    bucket, prefix = split_url(url)
    found = []
    try:
        for entry in listed(clients.get(), bucket, prefix):
            parts = entry["Key"].removeprefix(prefix).split("/")
            if any(p.startswith(".") for p in parts) or not fnmatch.fnmatch(parts[-1].lower(), pattern.lower()):
                continue
            found.append((f"{SCHEME}{bucket}/{entry['Key']}", entry["LastModified"].timestamp(), int(entry["Size"])))
    except Exception as exc:  # noqa: BLE001 - botocore's errors: missing, forbidden, unreachable
        raise OSError(2, f"the objects cannot be listed ({type(exc).__name__})") from None
    return sorted(found)


class Clients:
    """One boto3 client per process: a client must not cross ``fork`` (its connection pool would
    be shared by parent and child), and building one costs milliseconds."""

    def __init__(self, endpoint: S3Endpoint) -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._client: Any = None
        self._pid = 0

    def get(self) -> Any:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client, self._pid = self._build(), os.getpid()
            return self._client

    def _build(self) -> Any:
        import boto3
        from botocore.config import Config

        e = self.endpoint
        config = Config(s3={"addressing_style": "virtual" if e.virtual_hosting else "path"},
                        retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)
        return boto3.session.Session().client(
            "s3", endpoint_url=e.endpoint_url, region_name=e.region or None, aws_access_key_id=e.access_key_id,
            aws_secret_access_key=e.secret_access_key, aws_session_token=e.session_token, config=config)
