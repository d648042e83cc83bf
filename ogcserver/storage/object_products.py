"""Analysis products in a bucket (``analysis.output_url: s3://bucket/prefix``), so that workers
and hosting nodes on other machines share them without a shared disk.

The layout is the folder's: ``<prefix>/.work/<name>/manifest.json``, ``.../chunks/<chunk>.tif``
and the product ``<prefix>/<name>.tif``. A worker writes its chunk to a local temporary file and
puts it whole (an object is only ever visible complete, so a chunk object that exists is done).
The product is assembled on the machine running the job from the chunks copied into a local
folder, then uploaded last, once complete; a multipart upload (large products) becomes visible
under its key only when it completes, so no reader sees part of a product. Hosting nodes read it
through GDAL's ``/vsis3/``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from ogcserver.model.image import Grid
from ogcserver.model.jobs import ProductBusy
from ogcserver.model.object_urls import SCHEME, split_url
from ogcserver.storage.product_claims import Claim
from ogcserver.storage.products import DEFLATE_LEVEL, BandForm, ProductFolder, write_chunk
from ogcserver.storage.s3 import Clients, error_code, listed

# parts of 64 MiB from 64 MiB on: a product of the largest allowed size stays under S3's 10,000 parts
TRANSFER = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4)
# a conditional request that lost: the object is not (or no longer) the one the condition named
LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404"}


class ObjectProductFolder:
    """One job's chunks and product under a bucket prefix; the same contract as ``ProductFolder``."""

    def __init__(self, clients: Clients, url: str, name: str, deflate_level: int = DEFLATE_LEVEL) -> None:
        self.clients = clients
        self.deflate_level = deflate_level
        self.bucket, prefix = split_url(url.rstrip("/"))
        self.prefix = f"{prefix}/" if prefix else ""
        self.name = name
        self.work = f"{self.prefix}.work/{name}/"
        self.product = f"{self.prefix}{name}.tif"
        self.claim_key = f"{self.prefix}.work/{name}.claim"
        self._etag: str | None = None  # the claim object this job last wrote: each change is conditional on it

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.product}"

    def _chunk_key(self, name: str) -> str:
        return f"{self.work}chunks/{name}.tif"

    def _keys(self, prefix: str) -> list[str]:
        return [o["Key"] for o in listed(self.clients.get(), self.bucket, prefix)]

    def _found(self) -> tuple[Claim | None, str] | None:
        """The claim in the bucket and its ETag; None when there is none."""
        try:
            answer = self.clients.get().get_object(Bucket=self.bucket, Key=self.claim_key)
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                return None
            raise
        return Claim.decode(answer["Body"].read()), answer["ETag"]

    def holder(self) -> Claim | None:
        found = self._found()
        return None if found is None else found[0]

    def claim(self, claim: Claim, expiry: float) -> None:
        """Put the claim if there is none (``If-None-Match: *``), or in place of an expired one
        only if it is still that one (``If-Match`` its ETag): of two jobs racing, one wins."""
        for _ in range(5):
            found = self._found()
            try:
                if found is None:
                    answer = self.clients.get().put_object(Bucket=self.bucket, Key=self.claim_key,
                                                           Body=claim.encode(), IfNoneMatch="*")
                else:
                    holder, etag = found
                    if holder is not None and holder.blocks(claim.job, expiry):
                        raise holder.busy(self.name)
                    answer = self.clients.get().put_object(Bucket=self.bucket, Key=self.claim_key,
                                                           Body=claim.encode(), IfMatch=etag)
            except ClientError as exc:
                if error_code(exc) in LOST_RACE:
                    continue  # another job changed the claim meanwhile: look again
                raise
            self._etag = answer["ETag"]
            return
        found = self._found()
        if found is not None and found[0] is not None:
            raise found[0].busy(self.name)
        raise ProductBusy(self.name, "just now", "another node")

    def renew(self, claim: Claim) -> bool:
        if self._etag is None:
            return False
        try:
            answer = self.clients.get().put_object(Bucket=self.bucket, Key=self.claim_key,
                                                   Body=claim.renewed().encode(), IfMatch=self._etag)
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                self._etag = None
                return False
            raise
        self._etag = answer["ETag"]
        return True

    def release(self, claim: Claim) -> None:
        if self._etag is None:
            return
        try:
            self.clients.get().delete_object(Bucket=self.bucket, Key=self.claim_key, IfMatch=self._etag)
        except ClientError as exc:
            if error_code(exc) not in LOST_RACE:
                raise
        self._etag = None

    def manifest(self) -> dict | None:
        try:
            answer = self.clients.get().get_object(Bucket=self.bucket, Key=f"{self.work}manifest.json")
            return json.loads(answer["Body"].read())
        except Exception:  # noqa: BLE001 - missing or unreadable: no job to resume
            return None

    def start(self, manifest: dict) -> None:
        """Begin (or resume) the job: a prefix holding another job's chunks is cleared first."""
        if (self.manifest() or {}).get("digest") != manifest["digest"]:
            self.remove()
        self.clients.get().put_object(Bucket=self.bucket, Key=f"{self.work}manifest.json",
                                      Body=json.dumps(manifest, indent=1).encode(), ContentType="application/json")

    def exists(self) -> bool:
        try:
            self.clients.get().head_object(Bucket=self.bucket, Key=self.product)
        except Exception:  # noqa: BLE001 - botocore's "404": not there
            return False
        return True

    def done_chunks(self) -> set[str]:
        chunks = f"{self.work}chunks/"
        return {key.removeprefix(chunks).removesuffix(".tif") for key in self._keys(chunks)}

    def save_chunk(self, name: str, grid: Grid, data: np.ndarray | None, valid: np.ndarray | None,
                   form: BandForm, levels: int) -> None:
        with tempfile.TemporaryDirectory(prefix="ogcserver-chunk-") as scratch:
            path = Path(scratch) / f"{name}.tif"
            write_chunk(path, grid, data, valid, form.dtype, form.count, form.nodata, levels, self.deflate_level)
            self.clients.get().upload_file(str(path), self.bucket, self._chunk_key(name), Config=TRANSFER)

    def assemble(self, grid: Grid, chunk_windows: dict[str, tuple[int, int, int, int]], form: BandForm) -> str:
        with tempfile.TemporaryDirectory(prefix="ogcserver-product-") as scratch:
            local = ProductFolder(Path(scratch), self.name, self.deflate_level)
            (local.work / "chunks").mkdir(parents=True)
            for name in chunk_windows:
                self.clients.get().download_file(self.bucket, self._chunk_key(name), str(local.chunk_path(name)),
                                                 Config=TRANSFER)
            product = local.assemble(grid, chunk_windows, form)
            self.clients.get().upload_file(product, self.bucket, self.product, Config=TRANSFER,
                                           ExtraArgs={"ContentType": "image/tiff"})
        return self.url

    def remove(self) -> None:
        """Forget the job's chunks (after the product is in place, or when it is discarded)."""
        keys = self._keys(self.work)
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            self.clients.get().delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
