"""A tile cache in an S3-compatible bucket, shared by every server that reaches the bucket.

    PREFIX{layer}/{style}/{tms}/{version}/{z}/{x}/{y}.{ext}   (the directory store's layout)
    PREFIX{layer}/{style}/{tms}/current                        (a text object: the live version)

so a CDN or a static host in front of the bucket serves tiles by the same paths. An S3 PUT is
atomic: a reader sees the old object, the new one, or none. Objects have no links, so an empty
tile is stored as its own (small) object.

Locks are objects created with a conditional write (``If-None-Match: *``): exactly one creator
wins, on whichever machine. A lock carries its expiry; a process that dies holding one delays
that metatile for at most ``LEASE_SECONDS``, after which a waiter takes it over with a write
conditional on the dead holder's ETag (``If-Match``), so two waiters cannot both take it.

Objects have no access time: least-recently-used eviction goes by the last write, and a hit on a
tile older than ``touch_after`` seconds rewrites it in place (a server-side copy) to mark it used.

The cache only saves work: while the bucket cannot be reached, reads miss, writes are dropped
and locks are not taken (a metatile may be rendered twice), each logged, and tiles are still
answered, rendered every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ogcserver.model.tiles import StoredTile, TileKey
from ogcserver.storage.cache.directory import ATIME_RESOLUTION
from ogcserver.storage.s3 import Clients, error_code, listed

# A render stops at its deadline (limits.render_timeout, 30 s by default); a lock older than twice
# that belongs to a process that died.
LEASE_SECONDS = 60.0
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
COLUMNS_LISTED_ONE_BY_ONE = 16  # wider areas list the whole zoom level once
TILE_NAME = re.compile(r"^(\d+)\.[a-z0-9]+$")
LOCKS = ".locks/"
CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
UNREACHABLE = (BotoCoreError, ClientError)  # connection failures, refusals, a missing bucket
SAY_AGAIN_AFTER = 60.0  # seconds between log lines about one unreachable bucket

log = logging.getLogger(__name__)


class S3TileStore:
    def __init__(self, clients: Clients, bucket: str, prefix: str = "", touch_after: float = ATIME_RESOLUTION,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.clients = clients
        self.bucket = bucket
        self.prefix = prefix
        self.touch_after = touch_after
        self.clock = clock
        self.sleep = sleep
        self._current: dict[str, str] = {}  # what this process last wrote as each set's current version
        self._said = 0.0  # when the bucket was last said to be unreachable

    @property
    def _s3(self) -> Any:
        return self.clients.get()

    def key(self, key: TileKey) -> str:
        return f"{self.prefix}{key.layer}/{key.style}/{key.tms}/{key.version}/{key.z}/{key.x}/{key.y}.{key.ext}"

    def check(self) -> None:
        """Raise OSError unless a tile can be stored now: one small object written (readiness)."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}.ready", Body=b"", ContentType="text/plain")
        except Exception as exc:
            raise OSError(f"bucket '{self.bucket}' cannot store tiles: {type(exc).__name__}") from exc

    def _unreachable(self, doing: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._said > SAY_AGAIN_AFTER:
            self._said = now
            log.warning("tile cache unreachable", extra={"bucket": self.bucket, "doing": doing,
                                                         "reason": f"{type(exc).__name__}: {exc}"[:300]})

    def get(self, key: TileKey) -> StoredTile | None:
        name = self.key(key)
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=name)
            body = answer["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        except UNREACHABLE as exc:
            self._unreachable("read", exc)
            return None
        written = answer["LastModified"].timestamp()
        if self.clock() - written > self.touch_after:
            self._touch(name)
        return StoredTile(body, written, answer["ETag"].strip('"'))

    def _touch(self, name: str) -> None:
        """Mark a tile used: a copy onto itself gives it a new last-modified time."""
        with contextlib.suppress(self._s3.exceptions.ClientError):
            self._s3.copy_object(Bucket=self.bucket, Key=name, CopySource={"Bucket": self.bucket, "Key": name},
                                 MetadataDirective="REPLACE", Metadata={"used": str(int(self.clock()))})

    def put(self, key: TileKey, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self.key(key), Body=data, ContentType=_content_type(key.ext))
            self.point_current(key.layer, key.style, key.tms, key.version)
        except UNREACHABLE as exc:
            self._unreachable("write", exc)

    def put_empty(self, key: TileKey, data: bytes) -> None:
        self.put(key, data)

    def point_current(self, layer: str, style: str, tms: str, version: str) -> None:
        """Record the version a static front should serve (once per process and version)."""
        name = f"{self.prefix}{layer}/{style}/{tms}/current"
        if self._current.get(name) == version:
            return
        self._s3.put_object(Bucket=self.bucket, Key=name, Body=version.encode(), ContentType="text/plain")
        self._current[name] = version

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock shared by every process that reaches the bucket."""
        lock_key = f"{self.prefix}{LOCKS}{hashlib.sha1(name.encode()).hexdigest()[:20]}"
        wait = 0.02
        try:
            while not self._acquire(lock_key):
                self.sleep(wait)
                wait = min(wait * 2, 0.5)
        except UNREACHABLE as exc:
            self._unreachable("lock", exc)
            yield  # unlocked: at worst a second render of the same metatile
            return
        try:
            yield
        finally:
            with contextlib.suppress(self._s3.exceptions.ClientError):
                self._s3.delete_object(Bucket=self.bucket, Key=lock_key)

    def _acquire(self, lock_key: str) -> bool:
        body = json.dumps({"expires": self.clock() + LEASE_SECONDS}).encode()
        try:
            self._s3.put_object(Bucket=self.bucket, Key=lock_key, Body=body, IfNoneMatch="*")
            return True
        except self._s3.exceptions.ClientError as exc:
            if error_code(exc) not in CONFLICT:
                raise
        try:
            held = self._s3.get_object(Bucket=self.bucket, Key=lock_key)
            expires = float(json.loads(held["Body"].read()).get("expires", 0))
        except self._s3.exceptions.NoSuchKey:
            return False  # released meanwhile: try again
        except (ValueError, TypeError, AttributeError):
            expires = 0.0  # not a lock this store wrote: take it over
        if expires > self.clock():
            return False
        try:  # the holder died: take over exactly the lock seen, not one another waiter took since
            self._s3.put_object(Bucket=self.bucket, Key=lock_key, Body=body, IfMatch=held["ETag"])
            return True
        except self._s3.exceptions.ClientError as exc:
            if error_code(exc) not in CONFLICT and error_code(exc) != "NoSuchKey":
                raise
            return False

    def delete(self, key: TileKey) -> bool:
        name = self.key(key)
        try:
            self._s3.head_object(Bucket=self.bucket, Key=name)
        except self._s3.exceptions.ClientError:
            return False
        self._s3.delete_object(Bucket=self.bucket, Key=name)
        return True

    # -- listing and batched deletes --------------------------------------------------------------
    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under a prefix (ListObjectsV2, a thousand at a time)."""
        return listed(self._s3, self.bucket, prefix)

    def _delete_keys(self, names: Iterable[str]) -> int:
        removed, batch = 0, []
        for name in names:
            batch.append({"Key": name})
            if len(batch) == DELETE_BATCH:
                removed += self._delete_batch(batch)
                batch = []
        return removed + (self._delete_batch(batch) if batch else 0)

    def _delete_batch(self, batch: list[dict[str, str]]) -> int:
        answer = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(batch) - len(answer.get("Errors", []))

    def delete_area(self, layer: str, style: str, tms: str, version: str, z: int,
                    span: tuple[int, int, int, int]) -> int:
        """Remove the cached tiles x0..x1, y0..y1 of one zoom (listing only what exists)."""
        x0, y0, x1, y1 = span
        zoom = f"{self.prefix}{layer}/{style}/{tms}/{version}/{z}/"
        if x1 - x0 < COLUMNS_LISTED_ONE_BY_ONE:
            listings: Iterable[dict[str, Any]] = (o for x in range(x0, x1 + 1) for o in self._list(f"{zoom}{x}/"))
        else:
            listings = self._list(zoom)

        def inside(name: str) -> bool:
            column, _, tile = name[len(zoom):].partition("/")
            match = TILE_NAME.match(tile)
            return column.isdigit() and x0 <= int(column) <= x1 and match is not None and y0 <= int(match[1]) <= y1

        return self._delete_keys(o["Key"] for o in listings if inside(o["Key"]))

    def delete_zoom(self, layer: str, tms: str, z: int) -> int:
        """Remove every cached tile of one zoom level (all styles and versions)."""
        base = f"{self.prefix}{layer}/"

        def of_zoom(name: str) -> bool:
            parts = name[len(base):].split("/")  # style, tms, version, z, x, y.ext
            return len(parts) == 6 and parts[1] == tms and parts[3] == str(z)

        return self._delete_keys(o["Key"] for o in self._list(base) if of_zoom(o["Key"]))

    def delete_layer(self, layer: str) -> None:
        self._delete_keys(o["Key"] for o in self._list(f"{self.prefix}{layer}/"))
        self._current = {k: v for k, v in self._current.items() if not k.startswith(f"{self.prefix}{layer}/")}

    def _tiles(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(layer, listing) of every tile under the prefix (not locks, not ``current`` records)."""
        for entry in self._list(self.prefix):
            rest = entry["Key"][len(self.prefix):]
            if rest.startswith(LOCKS) or rest.count("/") != 6:
                continue
            yield rest.partition("/")[0], entry

    def enforce_quota(self, max_bytes: int) -> int:
        """Evict the least recently written (or touched) tiles down to 90% of ``max_bytes``."""
        tiles = [(e["LastModified"].timestamp(), e["Size"], e["Key"]) for _layer, e in self._tiles()]
        total = sum(size for _, size, _ in tiles)
        if total <= max_bytes:
            return 0
        target, doomed = int(max_bytes * 0.9), []
        for _written, size, name in sorted(tiles):
            if total <= target:
                break
            doomed.append(name)
            total -= size
        return self._delete_keys(doomed)

    def stats(self) -> dict[str, dict[str, int]]:
        """Tiles and bytes per layer."""
        out: dict[str, dict[str, int]] = {}
        for layer, entry in self._tiles():
            counts = out.setdefault(layer, {"tiles": 0, "bytes": 0})
            counts["tiles"] += 1
            counts["bytes"] += entry["Size"]
        return dict(sorted(out.items()))


def _content_type(ext: str) -> str:
    return {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp",
            "tif": "image/tiff", "mvt": "application/vnd.mapbox-vector-tile"}.get(ext, "application/octet-stream")
