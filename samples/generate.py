"""Deterministic generator of realistic demo raster data for ogcserver.

Everything is derived from one synthetic landscape in UTM zone 32N
(EPSG:32632) so that the products agree with each other:

* ``dem.tif`` - float32 elevation model (2 m, 2048 x 2048 px at scale 1)
  with a lake basin and an uncovered collar set to nodata (-9999).
* ``ortho/ortho_rRcC_YYYYMMDD.tif`` - six overlapping 4-band (red, green,
  blue, nir) uint8 aerial image tiles (0.5 m, one of them 1.0 m), each with
  its own acquisition date; one with an internal per-dataset mask, one with
  a nodata=0 collar.
* ``scene_multispectral.tif`` - a 6-band uint16 Sentinel-2-L2A-like scene
  (10 m) with a rotated swath collar (nodata=0) and a few clouds.
* ``MANIFEST.json`` - written last: files, sha256, sizes, CRS, bounds.

The landscape elevation is computed once on a regular "world" grid at the
DEM resolution (covering the multispectral scene) and bilinearly resampled
to every product grid.  All other landscape properties (land cover, lake
shore, forest, parcels, roads) are analytic functions of the map
coordinates (hash-based value noise, vector geometry), so overlapping
products show the same features.  Output is byte-identical between runs.

Each kind of data has its module (``dem``, ``ortho``, ``multispectral``), drawn from the
shared ``landscape`` (itself built on ``noise`` and ``grids``, with the figures of ``area``) and
written by ``cog``; this module runs them in order and writes the manifest.

Usage, from the repository's root::

    python -m samples.generate [--out DIR] [--scale S] [--force]

or ``from samples.generate import generate; generate(Path(...), scale=0.125)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil

from samples.area import (
    CRS,
    DEFAULT_OUT,
    DEM_SIZE_M,
    DEM_X0,
    DEM_Y0,
    GENERATOR_VERSION,
    MANIFEST_NAME,
    MS_DATETIME,
    ORTHO_TILES,
    SEED,
)
from samples.cog import describe, parse_time
from samples.dem import write_dem
from samples.landscape import Landscape
from samples.multispectral import write_ms
from samples.ortho import write_ortho


def generate(out_dir: Path, scale: float = 1.0, force: bool = False) -> dict:
    """Generate the demo data set into out_dir and return the manifest.

    If out_dir/MANIFEST.json exists and force is False, nothing is written
    and the existing manifest is returned.
    """
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_NAME
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        print(f"samples: {manifest_path} exists (scale {manifest.get('scale')}), "
              f"nothing to do (use --force to regenerate)", flush=True)
        return manifest
    if not scale > 0:
        raise ValueError("scale must be > 0")
    old = []
    if manifest_path.exists():
        try:
            old = [f["path"] for f in json.loads(manifest_path.read_text()).get("files", [])]
        except (ValueError, KeyError, TypeError):
            old = []
        manifest_path.unlink()
    (out_dir / "ortho").mkdir(parents=True, exist_ok=True)

    t_start = time.perf_counter()
    master = np.random.default_rng(SEED)
    streams = master.spawn(len(ORTHO_TILES) + 1)
    files = []

    def done(path, kind, t0, acquired=None):
        entry = describe(out_dir, path, kind, acquired)
        files.append(entry)
        print(f"samples: wrote {entry['path']:<34} {entry['width']}x{entry['height']}x"
              f"{entry['count']} {entry['dtype']:<7} {entry['size_bytes'] / 1e6:7.2f} MB "
              f"{time.perf_counter() - t0:5.2f} s", flush=True)

    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_PAM_ENABLED=False):
        t0 = time.perf_counter()
        land = Landscape(scale, master)
        print(f"samples: landscape {land.world.grid.width}x{land.world.grid.height} px at "
              f"{land.world.grid.res:g} m, water level {land.world.water_level} m "
              f"{time.perf_counter() - t0:5.2f} s", flush=True)

        t0 = time.perf_counter()
        done(write_dem(land, out_dir), "dem", t0)

        for k, (row, col, stamp, variant) in enumerate(ORTHO_TILES):
            t0 = time.perf_counter()
            when = parse_time(stamp)
            path = write_ortho(land, streams[k], out_dir, row, col, when, variant, scale)
            done(path, "ortho", t0, stamp)

        t0 = time.perf_counter()
        done(write_ms(land, streams[-1], out_dir, scale), "multispectral", t0, MS_DATETIME)

    produced = {f["path"] for f in files}
    for rel in old:
        stale = out_dir / rel
        if rel not in produced and stale.is_file() and stale.suffix == ".tif":
            stale.unlink()

    manifest = {
        "generator": "samples/generate.py",
        "version": GENERATOR_VERSION,
        "seed": SEED,
        "scale": scale,
        "crs": CRS,
        "area_bounds": [DEM_X0, DEM_Y0 - DEM_SIZE_M, DEM_X0 + DEM_SIZE_M, DEM_Y0],
        "water_level_m": land.world.water_level,
        "total_bytes": sum(f["size_bytes"] for f in files),
        "files": files,
    }
    tmp = manifest_path.with_name(MANIFEST_NAME + ".part")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, manifest_path)
    print(f"samples: {len(files)} files, {manifest['total_bytes'] / 1e6:.1f} MB in "
          f"{time.perf_counter() - t_start:.1f} s -> {out_dir}", flush=True)
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output folder (default: {DEFAULT_OUT})")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies all pixel dimensions (default 1.0)")
    ap.add_argument("--force", action="store_true", help="regenerate even if MANIFEST.json exists")
    args = ap.parse_args(argv)
    if not args.scale > 0:
        ap.error("--scale must be > 0")
    generate(args.out, scale=args.scale, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
