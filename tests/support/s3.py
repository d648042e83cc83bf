"""A local S3-compatible server for the tests: moto's server mode on a free local port.

It runs in a thread of the test process (``ThreadedMotoServer``); servers the tests start as
subprocesses reach it over 127.0.0.1 like any S3 endpoint. Each test takes a bucket of its own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import yaml

ACCESS_KEY, SECRET_KEY, REGION = "testing-key", "testing-secret", "us-east-1"
_names = itertools.count()


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Start moto's S3 server on a free 127.0.0.1 port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, region_name=REGION)


def new_bucket(endpoint: str, stem: str = "bucket") -> str:
    """A fresh, empty bucket with a name no other test uses."""
    name = f"{stem}-{os.getpid()}-{next(_names)}"
    client(endpoint).create_bucket(Bucket=name)
    return name


def upload(endpoint: str, bucket: str, path: Path, key: str | None = None) -> str:
    """Put a file into the bucket; returns its ``s3://`` URL."""
    key = key or path.name
    client(endpoint).upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def storage_section(endpoint: str, buckets: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The configuration's ``storage`` section for this server."""
    return {"s3": {"endpoint_url": endpoint, "region": REGION, "access_key_id": ACCESS_KEY,
                   "secret_access_key": SECRET_KEY, "buckets": list(buckets)}}


def use_s3_cache(config: Path, endpoint: str, bucket: str, prefix: str = "") -> Path:
    """Rewrite a configuration file to keep its tile cache in the bucket."""
    raw = yaml.safe_load(config.read_text())
    raw["storage"] = storage_section(endpoint, raw.get("storage", {}).get("s3", {}).get("buckets", []))
    raw["cache"] = {**raw.get("cache", {}), "store": "s3", "bucket": bucket, "prefix": prefix}
    config.write_text(yaml.safe_dump(raw))
    return config


def keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    pages = client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
