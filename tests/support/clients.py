"""Real clients run as users run them: Debian's GDAL command line tools, QGIS's Python bindings
with the system Python, and headless Chromium (driven by ``browser.py``); and the gdalwarp reference their results are
compared with.

The test environment's rasterio bundles its own GDAL; the clients here are the distribution's
binaries, a separate build, as GIS users have them. Tests that need one are skipped only when it
is not installed (CI installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.support.rasters import CLIENT_SHAPE

GDAL_BIN = Path("/usr/bin")
SYSTEM_PYTHON = Path("/usr/bin/python3")
QGIS_SCRIPT = Path(__file__).with_name("qgis_render.py")
TIMEOUT = 120  # seconds any one client run may take before the test fails


def has_gdal_tools() -> bool:
    return (GDAL_BIN / "gdal_translate").exists() and (GDAL_BIN / "gdalwarp").exists()


def has_qgis() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True, timeout=60)
    return probe.returncode == 0


def chromium_binary() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)


needs_gdal = pytest.mark.skipif(not has_gdal_tools(), reason="Debian gdal-bin (gdal_translate, gdalwarp) is not installed")
needs_qgis = pytest.mark.skipif(not has_qgis(), reason="QGIS's Python bindings (Debian python3-qgis) are not installed")
needs_chromium = pytest.mark.skipif(chromium_binary() is None, reason="Chromium is not installed")


def gdal(tool: str, *args: str, cache: Path | None = None) -> str:
    """Run one of Debian's GDAL tools; its standard output, or a failure with its messages."""
    env = dict(os.environ, GDAL_HTTP_TIMEOUT="30", GDAL_ENABLE_WMS_CACHE="NO", CPL_DEBUG="OFF")
    if cache is not None:  # the WMS/WMTS/WCS drivers' disk cache, never the user's own
        env["GDAL_DEFAULT_WMS_CACHE_PATH"] = str(cache)
    done = subprocess.run([str(GDAL_BIN / tool), *args], capture_output=True, text=True, env=env, timeout=TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass(frozen=True)
class Grid:
    """Where a client's picture lies: CRS, transform and size."""

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        return t.c, t.f + self.height * t.e, t.c + self.width * t.a, t.f

    @classmethod
    def of_extent(cls, crs: str, extent: tuple[float, float, float, float], width: int, height: int) -> Grid:
        xmin, ymin, xmax, ymax = extent
        return cls(crs, Affine((xmax - xmin) / width, 0, xmin, 0, -(ymax - ymin) / height, ymax), width, height)


def read_tif(path: Path) -> tuple[np.ndarray, Grid]:
    """A client's GeoTIFF output: its bands and grid (read locally; the client wrote it)."""
    with rasterio.open(path) as ds:
        return ds.read(), Grid(f"EPSG:{ds.crs.to_epsg()}" if ds.crs else "", ds.transform, ds.width, ds.height)


def warp_reference(source: Path, grid: Grid, workdir: Path) -> np.ndarray:
    """The source warped by Debian's gdalwarp onto ``grid`` (nearest, exact transformer): the
    source's bands and an alpha band (255 where the source has data)."""
    out = Path(tempfile.mkstemp(prefix="reference-", suffix=".tif", dir=workdir)[1])
    gdal("gdalwarp", "-q", "-overwrite", "-r", "near", "-et", "0", "-dstalpha", "-t_srs", grid.crs,
         "-te", *map(repr, grid.bounds), "-ts", str(grid.width), str(grid.height), str(source), str(out))
    with rasterio.open(out) as ds:
        return ds.read()


@dataclass(frozen=True)
class Agreement:
    """How a client's picture of a ``rasters.located`` layer agrees with the reference.

    ``missing``: share of the reference's data pixels the client shows blank; ``extra``: pixels
    the client shows where the reference has none (as a share of the reference's data pixels);
    ``shift``: mean column and row offset (in source pixels) of what the client shows against
    the reference; ``spread``: 95th percentile of the absolute offsets; ``exact``: share of
    pixels identical in all three bands.
    """

    data_pixels: int
    missing: float
    extra: float
    shift: tuple[float, float]
    spread: float
    exact: float

    def placed(self, shift: float = 0.5, spread: float = 1.0, coverage: float = 0.03) -> bool:
        """The data is all there and in the right place, within a client's resampling."""
        return (self.data_pixels > 0 and self.missing <= coverage and self.extra <= coverage
                and max(map(abs, self.shift)) <= shift and self.spread <= spread)


def located_valid(picture: np.ndarray) -> np.ndarray:
    """Where a picture of a ``located`` layer shows data: codes in range, opaque if it has alpha.
    Backgrounds (black, white, transparent) are never valid codes."""
    h, w = CLIENT_SHAPE
    valid = (picture[0] >= 1) & (picture[0] <= w) & (picture[1] >= 1) & (picture[1] <= h)
    if picture.shape[0] == 4:
        valid &= picture[3] > 0
    return valid


def agreement(picture: np.ndarray, reference: np.ndarray) -> Agreement:
    """Compare a client's bands (3, or 4 with alpha) with ``warp_reference`` on the same grid."""
    assert picture.shape[1:] == reference.shape[1:], (picture.shape, reference.shape)
    want = reference[3] > 0
    have = located_valid(picture)
    both = want & have
    n = int(want.sum())
    if not both.any():
        return Agreement(n, 1.0, float((have & ~want).sum()) / max(n, 1), (np.inf, np.inf), np.inf, 0.0)
    dcol = picture[0][both].astype(int) - reference[0][both]
    drow = picture[1][both].astype(int) - reference[1][both]
    return Agreement(
        data_pixels=n,
        missing=float((want & ~have).sum()) / n,
        extra=float((have & ~want).sum()) / n,
        shift=(float(dcol.mean()), float(drow.mean())),
        spread=float(np.percentile(np.maximum(np.abs(dcol), np.abs(drow)), 95)),
        exact=float((picture[:3, both] == reference[:3, both]).all(axis=0).mean()),
    )


def run_qgis(jobs: list[dict], workdir: Path) -> dict[str, dict]:
    """Load and render each job with QGIS (see ``qgis_render.py``); the results by job id."""
    jobs_path, results_path = workdir / "qgis-jobs.json", workdir / "qgis-results.json"
    jobs_path.write_text(json.dumps(jobs))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(workdir), HOME=str(workdir))
    env.pop("PYTHONPATH", None)  # the system Python with its own packages, not the test environment's
    done = subprocess.run([str(SYSTEM_PYTHON), str(QGIS_SCRIPT), str(jobs_path), str(results_path)],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT * 2, cwd=workdir)
    if done.returncode != 0:
        raise AssertionError(f"QGIS failed:\n{done.stderr[-3000:]}")
    return json.loads(results_path.read_text())
