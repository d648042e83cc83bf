"""Names of rasters in S3-compatible object storage: ``s3://bucket/key``, and of folders of them:
``s3://bucket/prefix/`` (every object under the prefix, as a folder source is every file in it)."""

from __future__ import annotations

import re

SCHEME = "s3://"
# S3's rules for bucket names: 3-63 lower-case letters, digits, dots and hyphens
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def is_object_url(path: str) -> bool:
    return path.startswith(SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``."""
    bucket, _, key = url.removeprefix(SCHEME).partition("/")
    return bucket, key


def bucket_problem(bucket: str) -> str | None:
    """Why ``bucket`` cannot be a bucket's name, or None when it can."""
    return None if BUCKET.match(bucket) else f"'{bucket[:70]}' is not a valid bucket name"


def object_url_problem(url: str) -> str | None:
    """Why ``url`` is not the name of one object, or None when it is."""
    bucket, key = split_url(url)
    if (problem := bucket_problem(bucket)) is not None:
        return problem
    if not key or key.endswith("/") or any(c in key for c in "?#\\") or any(ord(c) < 32 for c in key):
        return "the URL must name one object: s3://bucket/key"
    return None


def is_prefix_url(path: str) -> bool:
    """``s3://bucket/prefix/``: a folder of objects, not one object."""
    return is_object_url(path) and path.endswith("/")


def prefix_url_problem(url: str) -> str | None:
    """Why ``url`` is not the name of a folder of objects, or None when it is."""
    bucket, prefix = split_url(url)
    if (problem := bucket_problem(bucket)) is not None:
        return problem
    if "//" in prefix or any(c in prefix for c in "?#\\*") or any(ord(c) < 32 for c in prefix):
        return "a folder of objects is named s3://bucket/prefix/"
    return None
