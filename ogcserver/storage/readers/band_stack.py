"""Open a scene delivered as one single-band file per band as one multiband dataset.

The dataset is a VRT that ogcserver writes in memory, never to disk: one plain ``SimpleSource``
per band, naming only the stack's own files, each vetted and checked exactly as a source of its
own before (``sources.allow_vrt`` is about VRT files a publisher or user supplies, which may name
any file or URL; this one names nothing but files already accepted). Its bands are named after
the files' band tokens. A Landsat ``_MTL.txt`` beside the files gives the scene's time.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import rasterio

from ogcserver.model.band_files import BandStack
from ogcserver.model.errors import SourceRefused
from ogcserver.storage.gdal_types import GDAL_TYPES
from ogcserver.storage.readers import vetting

MAX_MTL_BYTES = 1 << 20


def open_members(stack: BandStack, rules: vetting.SourceRules, check: bool = True) -> list[rasterio.DatasetReader]:
    """The stack's files opened, each vetted as a source (``vetting.open_source``); refused unless
    they are single-band rasters on one grid (CRS, transform, size) of one data type."""
    opened: list[rasterio.DatasetReader] = []
    try:
        for path in stack.files:
            ds = vetting.open_source(path, rules)
            opened.append(ds)
            if check:
                vetting.check_dataset(ds, path, rules)
        problem = grid_problem(opened)
        if problem:
            raise SourceRefused(stack.name, problem)
    except BaseException:
        for ds in opened:
            ds.close()
        raise
    return opened


def grid_problem(datasets: Sequence[rasterio.DatasetReader]) -> str | None:
    """Why the files cannot be bands of one raster, None when they can."""
    first = datasets[0]
    for ds in datasets:
        if ds.count != 1:
            return f"'{os.path.basename(ds.name)}' has {ds.count} bands: band files hold one band each"
        if (ds.crs, ds.transform, ds.width, ds.height, ds.dtypes[0]) != \
                (first.crs, first.transform, first.width, first.height, first.dtypes[0]):
            return f"'{os.path.basename(ds.name)}' differs from '{os.path.basename(first.name)}' in CRS, " \
                   "grid or data type"
    return None


def stack_vrt(stack: BandStack, datasets: Sequence[rasterio.DatasetReader]) -> str:
    """The in-memory VRT of the stack: one plain source per band, bands named by their tokens."""
    first = datasets[0]
    dtype = GDAL_TYPES.get(first.dtypes[0])
    if dtype is None:
        raise SourceRefused(stack.name, f"band files of {first.dtypes[0]} are not supported")
    t = first.transform
    nodata = "" if first.nodata is None else f"<NoDataValue>{first.nodata!r}</NoDataValue>"
    block_h, block_w = first.block_shapes[0]
    bands = []
    for i, (token, path) in enumerate(zip(stack.tokens, stack.files, strict=True), start=1):
        bands.append(
            f'<VRTRasterBand dataType="{dtype}" band="{i}"><Description>{escape(token)}</Description>{nodata}'
            f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(os.path.abspath(path))}</SourceFilename>'
            f"<SourceBand>1</SourceBand>"
            f'<SourceProperties RasterXSize="{first.width}" RasterYSize="{first.height}" DataType="{dtype}" '
            f'BlockXSize="{block_w}" BlockYSize="{block_h}"/>'
            f'<SrcRect xOff="0" yOff="0" xSize="{first.width}" ySize="{first.height}"/>'
            f'<DstRect xOff="0" yOff="0" xSize="{first.width}" ySize="{first.height}"/>'
            f"</SimpleSource></VRTRasterBand>")
    return (f'<VRTDataset rasterXSize="{first.width}" rasterYSize="{first.height}">'
            f"<SRS>{escape(first.crs.to_wkt())}</SRS>"
            f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>"
            f"{''.join(bands)}</VRTDataset>")


def open_stack(stack: BandStack, rules: vetting.SourceRules, **options: object) -> rasterio.DatasetReader:
    """The stack as one dataset (options as ``rasterio.open`` takes them: overview levels). Its
    files are checked as datasets when the scene is described (``open_members``), as a single
    file is, not again at every open of a read handle."""
    members = open_members(stack, rules, check=False)
    try:
        xml = stack_vrt(stack, members)
    finally:
        for ds in members:
            ds.close()
    return rasterio.open(xml, driver="VRT", **options)


def same_grid(stack: BandStack, rules: vetting.SourceRules) -> bool:
    """Whether the stack's files can be one raster (headers only; refusals are left to the catalog,
    which gives each file's reason when the files stay single items)."""
    try:
        for ds in open_members(stack, rules, check=False):
            ds.close()
    except (SourceRefused, rasterio.errors.RasterioError, OSError):
        return False
    return True


MTL_FIELD = re.compile(r'^\s*([A-Z][A-Z0-9_]*)\s*=\s*"?([^"\r\n]*?)"?\s*$', re.MULTILINE)


def mtl_file(stack: BandStack) -> str | None:
    """The Landsat ``_MTL.txt`` of the stack's scene: the file beside it whose product id begins
    the files' names; None when there is none."""
    try:
        names = sorted(n for n in os.listdir(stack.folder) if n.upper().endswith("_MTL.TXT"))
    except OSError:
        return None
    name = next((n for n in names if stack.head.startswith(n[: -len("_MTL.txt")] + "_")), None)
    return None if name is None else os.path.join(stack.folder, name)


def mtl_fields(stack: BandStack) -> dict[str, str]:
    """The fields of the scene's MTL (``NAME = value``, the first of each name; groups are not
    kept apart, their field names differ), empty without one; at most its first MiB is read."""
    path = mtl_file(stack)
    if path is None:
        return {}
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(MAX_MTL_BYTES)
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for name, value in MTL_FIELD.findall(text):
        fields.setdefault(name, value)
    return fields


def scene_time(stack: BandStack, fields: dict[str, str] | None = None) -> datetime | None:
    """The acquisition time of the scene: its MTL's ``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``
    (``fields``: the MTL's, when already read)."""
    fields = mtl_fields(stack) if fields is None else fields
    try:
        day = datetime.strptime(fields["DATE_ACQUIRED"], "%Y-%m-%d")
    except (KeyError, ValueError):
        return None
    clock = re.match(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?", fields.get("SCENE_CENTER_TIME", ""))
    if clock is None:
        return day.replace(tzinfo=UTC)
    hours, minutes, seconds, fraction = clock.groups()
    return day.replace(hour=int(hours), minute=int(minutes), second=int(seconds),
                       microsecond=int((fraction or "0").ljust(6, "0")), tzinfo=UTC)


def mtl_scaling(stack: BandStack, fields: dict[str, str] | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each band's scale and offset from the scene's MTL, 1 and 0 where it gives none: the
    reflectance factors of band n (``REFLECTANCE_MULT_BAND_n``, ``REFLECTANCE_ADD_BAND_n``), the
    temperature factors of a surface temperature file (``..._ST_B10``:
    ``TEMPERATURE_MULT_BAND_ST_B10``). A Collection 2 Level-2 MTL lists its surface reflectance
    factors (2.75e-05, -0.2) before the Level-1 top-of-atmosphere ones, and the first field of a
    name is the one kept, so surface reflectance files get theirs (``fields``: the MTL's, when
    already read)."""
    fields = mtl_fields(stack) if fields is None else fields
    temperature = stack.head.upper().endswith("ST_")
    scales, offsets = [], []
    for token in stack.tokens:
        band = f"ST_{token.upper()}" if temperature else re.sub(r"^B0*", "", token.upper())
        kind = "TEMPERATURE" if temperature else "REFLECTANCE"
        try:
            scale, offset = float(fields[f"{kind}_MULT_BAND_{band}"]), float(fields[f"{kind}_ADD_BAND_{band}"])
        except (KeyError, ValueError):
            scale, offset = 1.0, 0.0
        ok = math.isfinite(scale) and math.isfinite(offset) and scale != 0
        scales.append(scale if ok else 1.0)
        offsets.append(offset if ok else 0.0)
    return tuple(scales), tuple(offsets)
