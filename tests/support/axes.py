"""Layers in CRSs of every axis order, for the tests of axis order at the protocol edge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support import rasters

# EPSG code: (origin x, origin y, pixel size), x/y order (easting or longitude first); all near Kassel
LAYERS = {
    4326: (9.4, 51.4, 0.0005),      # Lat, Lon
    4258: (9.4, 51.4, 0.0005),      # Lat, Lon (ETRS89)
    3035: (4280000, 3250000, 50),   # Y (north), X (east)
    31467: (3530000, 5700000, 50),  # X (north), Y (east): Gauss-Krueger
    21781: (600000, 200000, 50),    # Y (east), X (north): Swiss LV03, east first although abbreviated Y, X
    32632: (500000, 5700000, 50),   # E, N
}
SHAPE = (300, 400)  # rows, columns


def write_axis_config(root: Path) -> Path:
    """One layer per CRS of LAYERS (named ``epsg<code>``), and a config publishing them."""
    layers = []
    for code, (x0, y0, res) in LAYERS.items():
        path = rasters.write(root / f"epsg{code}.tif", rasters.texture(SHAPE, 3, seed=code),
                             rasters.from_origin(x0, y0, res, res), crs=f"EPSG:{code}")
        layers.append({"name": f"epsg{code}", "source": str(path)})
    config = root / "ogcserver.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"data_dir": str(root / "state"), "index_refresh_seconds": 0},
        "services": [{"name": "axes", "layers": layers}],
    }))
    return config


GDAL_BIN = Path("/usr/bin")  # Debian's gdal-bin, as desktop clients use it, not rasterio's own GDAL
HAVE_GDAL_BIN = (GDAL_BIN / "gdal_translate").exists() and (GDAL_BIN / "gdalinfo").exists()


def system_gdal(tool: str, *args: str) -> str:
    """Run one of Debian's GDAL tools without its WMS/WMTS cache; fail on any error it reports."""
    run = subprocess.run([str(GDAL_BIN / tool), *args], capture_output=True, text=True, timeout=120,
                         env={"GDAL_ENABLE_WMS_CACHE": "NO", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr
    return run.stdout
