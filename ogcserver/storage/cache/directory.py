"""A plain directory tree of tiles that any static web server can serve.

    ROOT/{layer}/{style}/{tms}/{version}/{z}/{x}/{y}.{ext}
    ROOT/{layer}/{style}/{tms}/current -> {version}     (a symlink, switched atomically)

Writes go to a temporary file in the target folder and are renamed into place, so a reader (or
a static server) never sees a partial tile, even if the writer is killed. Empty tiles are links
to one empty tile per version folder. Locks are ``flock`` on files under ROOT/.locks: the kernel
releases them when a process dies, so a killed renderer never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ogcserver.model.tiles import StoredTile, TileKey
from ogcserver.storage.cache.locks import check_writable, file_lock

ATIME_RESOLUTION = 600  # seconds: a hit refreshes a tile's access time at most this often


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        (root / ".locks").mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        check_writable(self.root / ".locks")

    def _version_dir(self, key: TileKey) -> Path:
        return self.root / key.layer / key.style / key.tms / key.version

    def path(self, key: TileKey) -> Path:
        return self._version_dir(key) / str(key.z) / str(key.x) / f"{key.y}.{key.ext}"

    def get(self, key: TileKey) -> StoredTile | None:
        # a plain string path: pathlib's joins cost as much as the read itself on a cache hit
        path = f"{self._root}/{key.layer}/{key.style}/{key.tms}/{key.version}/{key.z}/{key.x}/{key.y}.{key.ext}"
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                body = f.read()
        except FileNotFoundError:
            return None
        now = time.time()
        if now - st.st_atime > ATIME_RESOLUTION:  # the access time drives least-recently-used eviction
            with contextlib.suppress(OSError):
                os.utime(path, ns=(int(now * 1e9), st.st_mtime_ns))
        return StoredTile(body, st.st_mtime, f"{st.st_size:x}-{st.st_mtime_ns:x}")

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put(self, key: TileKey, data: bytes) -> None:
        self._write_atomic(self.path(key), data)
        self._point_current(key)

    def put_empty(self, key: TileKey, data: bytes) -> None:
        """Store an empty tile as a link to the version's one empty tile of that format."""
        shared = self._version_dir(key) / f"empty.{key.ext}"
        if not shared.exists():
            self._write_atomic(shared, data)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.path.relpath(shared, path.parent), tmp)
        os.replace(tmp, path)
        self._point_current(key)

    def _point_current(self, key: TileKey) -> None:
        self.point_current(key.layer, key.style, key.tms, key.version)

    def point_current(self, layer: str, style: str, tms: str, version: str) -> None:
        """Make ``current`` (what a static front serves) the given version, atomically."""
        current = self.root / layer / style / tms / "current"
        if os.path.islink(current) and os.readlink(current) == version:
            return
        if not current.parent.exists():
            return  # nothing of this layer was ever cached: nothing a static front could serve
        tmp = current.with_name(f".current-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(version, tmp)
        os.replace(tmp, current)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.root / ".locks", name)

    def delete(self, key: TileKey) -> bool:
        try:
            self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def enforce_quota(self, max_bytes: int) -> int:
        """Evict least recently used tiles until the tree holds at most 90% of ``max_bytes``."""
        files, total = [], 0
        for root, dirs, names in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                if name.startswith((".tmp-", "empty.", ".current")):
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if not os.path.islink(path):
                    files.append((st.st_atime_ns, st.st_size, path))
                    total += st.st_size
        if total <= max_bytes:
            return 0
        evicted, target = 0, int(max_bytes * 0.9)
        for _atime, size, path in sorted(files):
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                total -= size
                evicted += 1
        return evicted

    def delete_area(self, layer: str, style: str, tms: str, version: str, z: int,
                    span: tuple[int, int, int, int]) -> int:
        """Remove the cached tiles x0..x1, y0..y1 of one zoom (only those that exist are visited)."""
        zoom_dir = self.root / layer / style / tms / version / str(z)
        try:
            columns = os.listdir(zoom_dir)
        except FileNotFoundError:
            return 0
        x0, y0, x1, y1 = span
        removed = 0
        for column in columns:
            if not column.isdigit() or not x0 <= int(column) <= x1:
                continue
            for name in os.listdir(zoom_dir / column):
                stem = name.split(".", 1)[0]
                if stem.isdigit() and y0 <= int(stem) <= y1:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(zoom_dir / column / name)
                        removed += 1
        return removed

    def delete_zoom(self, layer: str, tms: str, z: int) -> int:
        """Remove every cached tile of one zoom level (all styles and versions); returns the count."""
        removed = 0
        for zoom_dir in (self.root / layer).glob(f"*/{tms}/*/{z}"):
            if zoom_dir.is_dir() and not zoom_dir.is_symlink():
                removed += sum(len(files) for _, _, files in os.walk(zoom_dir))
                shutil.rmtree(zoom_dir, ignore_errors=True)
        return removed

    def delete_layer(self, layer: str) -> None:
        shutil.rmtree(self.root / layer, ignore_errors=True)

    def stats(self) -> dict[str, dict[str, int]]:
        """Tiles and bytes per layer (links to empty tiles count as tiles of no size)."""
        out: dict[str, dict[str, int]] = {}
        for layer_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            tiles = size = 0
            for root, _dirs, files in os.walk(layer_dir):
                for name in files:
                    if name.startswith((".tmp-", "empty.")):
                        continue
                    full = os.path.join(root, name)
                    tiles += 1
                    if not os.path.islink(full):
                        size += os.path.getsize(full)
            out[layer_dir.name] = {"tiles": tiles, "bytes": size}
        return out
