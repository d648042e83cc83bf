"""The COG assembly runs with glibc's default-sized thresholds: under the bounded ones every
megabyte buffer GDAL takes is mapped afresh, which made the copy four times slower. The bounds
come back after it, so a long-lived process keeps returning memory."""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.transform import from_origin

from ogcserver.core.analysis.compute import ProductBands
from ogcserver.model.image import Grid
from ogcserver.storage import products
from ogcserver.storage.readers import process_memory

FORM = ProductBands("uint8", ("v",), None)


class RecordingLibc:
    """Stands for libc: remembers the mmap threshold last set, and trims."""

    def __init__(self) -> None:
        self.mmap_threshold: int | None = None
        self.trims = 0

    def mallopt(self, parameter: int, value: int) -> int:
        if parameter == process_memory.M_MMAP_THRESHOLD:
            self.mmap_threshold = value
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.trims += 1
        return 1


def test_the_cog_copy_runs_with_a_roomy_heap_and_the_bounds_come_back(tmp_path, monkeypatch):
    libc = RecordingLibc()
    monkeypatch.setattr(process_memory, "_libc", libc)
    process_memory.bound_process_memory(16 << 20)
    assert libc.mmap_threshold == process_memory.MMAP_THRESHOLD
    during = []
    copy = rasterio.shutil.copy

    def recording_copy(*args, **kwargs):
        during.append(libc.mmap_threshold)
        return copy(*args, **kwargs)

    monkeypatch.setattr(products.rasterio.shutil, "copy", recording_copy)
    grid = Grid("EPSG:32632", from_origin(500000, 5200000, 10, 10), 512, 512)
    folder = products.ProductFolder(tmp_path, "p")
    folder.start({"digest": "d"})
    values = np.arange(512 * 512, dtype=np.uint32).reshape(1, 512, 512).astype(np.uint8)
    products.write_chunk(folder.chunk_path("r0c0"), grid, values, np.ones((512, 512), bool), "uint8", 1, None, 0)
    path = products.assemble_cog(folder, grid, {"r0c0": (0, 512, 0, 512)}, FORM)
    assert during == [process_memory.ROOMY_MMAP_THRESHOLD]
    assert libc.mmap_threshold == process_memory.MMAP_THRESHOLD and libc.trims >= 1
    with rasterio.open(path) as out:
        assert (out.read() == values).all()
