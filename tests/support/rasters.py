"""Small synthetic rasters for tests, written with rasterio so every case is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin

__all__ = ["awkward", "client_layers", "from_origin", "located", "parent_and_tiles", "texture", "write"]

UTM = "EPSG:32632"
ORIGIN = (500000.0, 5200000.0)
RES = 10.0


def texture(shape: tuple[int, int], bands: int, seed: int, dtype: str = "uint8", scale: float = 255) -> np.ndarray:
    """Smooth gradients plus noise: every pixel differs, so misplaced pixels show up."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((bands, h, w), dtype=np.float32)
    for b in range(bands):
        base = (np.sin(xx / (7 + 3 * b)) + np.cos(yy / (11 + 2 * b)) + 2) / 4
        out[b] = 0.6 * base + 0.4 * rng.random((h, w), dtype=np.float32)
    out *= scale
    if np.dtype(dtype).kind in "ui":
        out = np.clip(np.rint(out), 1, np.iinfo(dtype).max)  # 0 stays free for nodata
    return out.astype(dtype)


def write(
    path: Path,
    data: np.ndarray,
    transform,
    crs: str = UTM,
    nodata: float | None = None,
    tags: dict | None = None,
    overviews: tuple[int, ...] = (),
    mask: np.ndarray | None = None,
    photometric: str | None = None,
    descriptions: tuple[str, ...] | None = None,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0],
        "dtype": data.dtype.name, "crs": crs, "transform": transform, "tiled": True,
        "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }
    if nodata is not None:
        profile["nodata"] = nodata
    if photometric:
        profile["photometric"] = photometric
    if photometric == "RGB" and data.shape[0] == 4:
        profile["alpha"] = "YES"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            if mask is not None:
                dst.write_mask(mask.astype(np.uint8) * 255)
            if tags:
                dst.update_tags(**tags)
            if descriptions:
                for i, d in enumerate(descriptions, start=1):
                    dst.set_band_description(i, d)
            if overviews:
                dst.build_overviews(list(overviews), Resampling.nearest)
    return path


def parent_and_tiles(folder: Path, shape=(500, 600), overlap: int = 40) -> tuple[Path, list[Path]]:
    """A 3-band image and a 2x2 split of it whose overlaps hold identical pixels."""
    data = texture(shape, 3, seed=1)
    transform = from_origin(*ORIGIN, RES, RES)
    parent = write(folder / "parent" / "parent.tif", data, transform)
    h, w = shape
    rows = [(0, h // 2 + overlap // 2), (h // 2 - overlap // 2, h)]
    cols = [(0, w // 2 + overlap // 2), (w // 2 - overlap // 2, w)]
    tiles = []
    dates = ["2021-05-01T10:00:00Z", "2022-05-01T10:00:00Z", "2023-05-01T10:00:00Z", "2024-05-01T10:00:00Z"]
    n = 0
    for r0, r1 in rows:
        for c0, c1 in cols:
            t = from_origin(ORIGIN[0] + c0 * RES, ORIGIN[1] - r0 * RES, RES, RES)
            tiles.append(write(
                folder / "tiles" / f"tile_{n}.tif", data[:, r0:r1, c0:c1], t,
                tags={"ACQUISITIONDATETIME": dates[n]}, overviews=(2, 4),
            ))
            n += 1
    return parent, tiles


def located(shape: tuple[int, int], seed: int) -> np.ndarray:
    """3 bands whose first two say where a pixel came from: band 1 is 1 + its column, band 2 is
    1 + its row, band 3 is noise. A client's picture, however resampled, tells how far off it is
    (compare bands 1 and 2 with the reference's); band 3 tells whether it is the exact pixel."""
    h, w = shape
    assert h < 255 and w < 255, "the codes must fit in a byte, 0 excluded"
    rows, cols = np.mgrid[0:h, 0:w]
    noise = texture(shape, 1, seed)[0]
    return np.stack([cols + 1, rows + 1, noise]).astype(np.uint8)


# Rasters in the three kinds of CRS clients treat differently: geographic with north-first axes,
# projected with east-first axes, projected with north-first axes (as the EPSG database says).
CLIENT_LAYERS: dict[str, tuple[str, tuple[float, float], float]] = {
    "geo": ("EPSG:4326", (9.2, 46.8), 0.0025),
    "utm": (UTM, ORIGIN, RES),
    "laea": ("EPSG:3035", (4300000.0, 2700000.0), 25.0),
}
CLIENT_SHAPE = (180, 240)


def client_layers(folder: Path) -> dict[str, Path]:
    """One ``located`` raster for each CRS of ``CLIENT_LAYERS``, by layer name."""
    out = {}
    for n, (name, (crs, origin, res)) in enumerate(CLIENT_LAYERS.items()):
        out[name] = write(folder / f"{name}.tif", located(CLIENT_SHAPE, seed=20 + n), from_origin(*origin, res, res),
                          crs=crs)
    return out


# File names a user's files have: dots before the extension, spaces, non-ASCII letters, leading
# digits, characters that mean something in URLs and XML. Each must become a working layer.
AWKWARD_NAMES = (
    "world.rgb.tif",
    "RGB.byte.tif",
    "orthophoto 2021 (final).tif",
    "Zürich-Höngg_ß.tif",
    "2021_30m_cdls.tif",
    "a&b<c>'d\".tif",
    "N10W110.hgt.tif",
)
AWKWARD_FOLDER = "1st mosaic.v2 ünïcode"


def awkward(folder: Path) -> list[Path]:
    """Small rasters in several CRSs under ``AWKWARD_NAMES``, and a folder of two with such names."""
    crss = [c for c, _, _ in CLIENT_LAYERS.values()]
    paths = []
    for n, name in enumerate(AWKWARD_NAMES):
        crs, origin, res = list(CLIENT_LAYERS.values())[n % len(crss)]
        paths.append(write(folder / name, located((60, 80), seed=40 + n), from_origin(*origin, res, res), crs=crs))
    mosaic = folder / AWKWARD_FOLDER
    for n, name in enumerate(("tile.a.tif", "tile b.tif")):
        x, y = ORIGIN
        write(mosaic / name, located((60, 80), seed=60 + n), from_origin(x + n * 800, y, RES, RES))
    return paths + [mosaic]


ANTIMERIDIAN_UTM = "EPSG:32660"  # UTM 60N: central meridian 177 E, 180 lies about 208 km east of it at 51 N


def antimeridian_pair(folder: Path) -> tuple[Path, Path]:
    """Two 3-band scenes in UTM 60N at about 51 N: ``dateline.tif`` crosses 180 (about 179 E to
    179.3 W, with a nodata collar on its west edge), ``west.tif`` lies west of it (about 175.7 E
    to 176.8 E) and does not touch it."""
    crossing = texture((300, 1200), 3, seed=7)
    crossing[:, :, :40] = 0
    dateline = write(folder / "dateline.tif", crossing, from_origin(640000.0, 5700000.0, 100.0, 100.0),
                     crs=ANTIMERIDIAN_UTM, nodata=0, overviews=(2, 4))
    west = write(folder / "west.tif", texture((300, 800), 3, seed=8), from_origin(410000.0, 5700000.0, 100.0, 100.0),
                 crs=ANTIMERIDIAN_UTM, nodata=0)
    return dateline, west
