"""What a file must be before GDAL opens it for publishing: sources are data, never instructions.

A raster file can carry instructions. A VRT reads whatever file or URL it names (a
``VRTRawRasterBand`` returns the raw bytes of any file; pixel functions run code), and GDAL opens
any format it recognises whatever the file is called, so a VRT renamed ``.tif`` passes as a
GeoTIFF. A tiny TIFF can declare a terapixel image or a tile that inflates to gigabytes. So:

- the path is a local file, or an object ``s3://bucket/key`` in a configured bucket: no ``/vsi``
  file systems, other URLs or GDAL connection strings (and nothing but local files inside a VRT);
- the format is identified from the file's first bytes, must be the one its extension names,
  and the file is then opened with that single driver;
- a VRT is accepted only where the configuration allows it, and then only plain sources
  (no raw bands, no pixel functions, no warped or processed datasets) inside the data roots,
  checked recursively through nested VRTs; checked when the file is registered and at every open;
- the opened dataset is within the configured sizes (sides, bands, block size, the declared size
  of an uncompressed file against its real size), has a usable geotransform (or at least three
  GCPs with their CRS, or RPCs), and has overviews when it is large.

Each refusal says why, so the catalog can record and log it once.
"""

from __future__ import annotations

import math
import os
import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from ogcserver.model.band_files import parse_stack_path
from ogcserver.model.errors import SourceRefused
from ogcserver.model.object_urls import is_object_url, object_url_problem, split_url
from ogcserver.storage.readers import remote
from ogcserver.storage.readers.georeferencing import MIN_GCPS, by_ground_model


@dataclass(frozen=True)
class SourceFormat:
    """A raster format ogcserver publishes: the GDAL driver that opens it, and its leading bytes
    (empty when the format has none, as SRTM .hgt: its driver checks the name and size itself)."""

    name: str
    driver: str
    magic: tuple[bytes, ...]


GEOTIFF = SourceFormat("GeoTIFF", "GTiff", (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"))
JPEG2000 = SourceFormat("JPEG 2000", "JP2OpenJPEG", (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"))
VRT = SourceFormat("VRT", "VRT", (b"<VRTDataset",))
PNG = SourceFormat("PNG", "PNG", (b"\x89PNG\r\n\x1a\n",))
JPEG = SourceFormat("JPEG", "JPEG", (b"\xff\xd8\xff",))
ERDAS = SourceFormat("Erdas Imagine", "HFA", (b"EHFA_HEADER_TAG",))
BAND_FILE_FORMATS = (GEOTIFF, JPEG2000, ERDAS)  # the formats a scene's band files may have
SRTM = SourceFormat("SRTM height file", "SRTMHGT", ())
SRTM_ZIP = SourceFormat("zipped SRTM height file", "SRTMHGT", (b"PK\x03\x04",))
# Other contents a file may turn out to have, named in refusals.
OTHER_CONTENTS = (
    SourceFormat("netCDF", "", (b"CDF\x01", b"CDF\x02", b"CDF\x05")),
    SourceFormat("HDF5", "", (b"\x89HDF\r\n\x1a\n",)),
    SourceFormat("ZIP", "", (b"PK\x03\x04",)),
)

XML = SourceFormat("XML other than a VRT", "", ())
XML_PROLOGUE = re.compile(rb"^(\s+|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>)*", re.DOTALL)

EXTENSIONS = {
    ".tif": GEOTIFF, ".tiff": GEOTIFF, ".jp2": JPEG2000, ".j2k": JPEG2000, ".vrt": VRT, ".png": PNG,
    ".jpg": JPEG, ".jpeg": JPEG, ".img": ERDAS, ".hgt": SRTM, ".hgt.zip": SRTM_ZIP,
}
# Multidimensional formats, read per variable by the xarray reader (``multidim_vetting.py``), not by GDAL
NETCDF = SourceFormat("netCDF", "", (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"))
HDF5 = SourceFormat("HDF5", "", (b"\x89HDF\r\n\x1a\n",))
ZARR = SourceFormat("Zarr", "", ())
MULTIDIM_EXTENSIONS = {".nc": NETCDF, ".nc4": NETCDF, ".cdf": NETCDF, ".h5": HDF5, ".hdf5": HDF5, ".zarr": ZARR}
NOT_YET = {
    ".hdf": "HDF4: not supported yet (HDF5 is: .h5, .hdf5)",
    ".grib": "GRIB: multidimensional sources are not supported yet",
    ".grb2": "GRIB: multidimensional sources are not supported yet",
}
# "/vsicurl/...", "http://...", "NETCDF:file:var", "MEM:::DATAPOINTER=...": not a local file path
NOT_A_FILE = re.compile(r"^(/vsi[a-z0-9_]*(/|$)|[A-Za-z][A-Za-z0-9+.\-]*:)")
HEAD_BYTES = 1024
MAX_VRT_BYTES = 16 * 2**20  # a VRT larger than this is refused (parsed in memory)
MAX_VRT_DEPTH = 8  # VRTs within VRTs
MAX_CHECKED_BLOCKS = 16_384  # tiles or strips whose place in the file is checked; beyond, a sample
# VRT constructs that make GDAL do more than read pixels of a plain source
VRT_REFUSED_ELEMENTS = {
    "PixelFunctionType": "pixel functions are not accepted",
    "PixelFunctionCode": "pixel functions are not accepted",
    "PixelFunctionLanguage": "pixel functions are not accepted",
    "PixelFunctionArguments": "pixel functions are not accepted",
    "SourceDataset": "warped VRTs are not accepted",
    "OpenOptions": "open options in VRT sources are not accepted",
}
VRT_SUBCLASSES = {
    "VRTRawRasterBand": "VRTRawRasterBand (raw bytes of another file) is not accepted",
    "VRTDerivedRasterBand": "pixel functions are not accepted",
}
VRT_PATH_ELEMENTS = ("SourceFilename",)
# CRS definitions GDAL would fetch from a URL; OGC CRS URIs are resolved locally
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
LOCAL_CRS_URI = "http://www.opengis.net/def/"


@dataclass(frozen=True)
class SourceRules:
    """The configured limits a source must respect (settings ``sources``)."""

    allow_vrt: bool = False
    roots: tuple[str, ...] = ()  # folders or files VRT sources may name (resolved paths)
    max_side: int = 262_144
    max_bands: int = 1024
    max_block_bytes: int = 64 * 2**20
    max_uncompressed_ratio: float = 16.0
    overviews_required_above: int | None = 16_384
    buckets: tuple[str, ...] = ()  # object storage buckets whose objects may be published


DEFAULT_RULES = SourceRules()


def _name(path: str) -> str:
    return os.path.basename(path) or path


def extension(path: str) -> str:
    lower = path.lower()
    return ".hgt.zip" if lower.endswith(".hgt.zip") else os.path.splitext(lower)[1]


def file_size(path: str) -> int:
    """Bytes of a local file or an object (OSError when it cannot be reached)."""
    return remote.size(path) if is_object_url(path) else os.path.getsize(path)


def _read_head(path: str) -> bytes:
    """The first bytes: a range request for an object, never the whole of it."""
    if is_object_url(path):
        return remote.read_head(path, HEAD_BYTES)
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def check_object_url(url: str, rules: SourceRules) -> None:
    problem = object_url_problem(url)
    if problem is not None:
        raise SourceRefused(_name(url), problem)
    bucket = split_url(url)[0]
    if bucket not in rules.buckets:
        raise SourceRefused(_name(url), f"bucket '{bucket}' is not one the configuration publishes from "
                                        "(settings: storage.s3.buckets)")


def identify(head: bytes) -> SourceFormat | None:
    """The format whose leading bytes the file starts with; for XML, after a byte-order mark,
    blanks, the XML declaration and comments."""
    for fmt in (GEOTIFF, JPEG2000, PNG, JPEG, ERDAS, *OTHER_CONTENTS):
        if head.startswith(fmt.magic):
            return fmt
    text = XML_PROLOGUE.sub(b"", head.removeprefix(b"\xef\xbb\xbf"))
    if text.startswith(VRT.magic):
        return VRT
    return XML if text.startswith(b"<") else None


def source_format(path: str, rules: SourceRules) -> SourceFormat:
    """The format of a local file or a configured object, from its extension, confirmed by its
    content; else refused."""
    if is_object_url(path):
        check_object_url(path, rules)
    elif NOT_A_FILE.match(path):
        raise SourceRefused(_name(path), "network, virtual file system and GDAL connection paths are not "
                                         "accepted: sources are local files")
    ext = extension(path)
    if ext in NOT_YET:
        raise SourceRefused(_name(path), NOT_YET[ext])
    if ext in MULTIDIM_EXTENSIONS:
        raise SourceRefused(_name(path), f"{MULTIDIM_EXTENSIONS[ext].name}: a multidimensional source, published "
                                         "per variable, not as one raster")
    expected = EXTENSIONS.get(ext)
    if expected is None:
        raise SourceRefused(_name(path), f"'{ext or 'no extension'}' is not a raster extension ogcserver "
                                         f"publishes ({', '.join(sorted(EXTENSIONS))})")
    try:
        head = _read_head(path)
    except OSError as exc:
        raise SourceRefused(_name(path), f"cannot be read ({exc.strerror})") from None
    found = identify(head)
    if expected is VRT:
        agrees = found is VRT
    else:  # a format without leading bytes of its own must at least not look like another one
        agrees = head.startswith(expected.magic) if expected.magic else found is None
    if not agrees:
        content = found.name if found is not None else "not a format ogcserver recognises"
        raise SourceRefused(_name(path), f"its content is {content}, not the {expected.name} its extension "
                                         f"'{ext}' says")
    if expected is VRT and is_object_url(path):
        raise SourceRefused(_name(path), "a VRT in object storage is not accepted: VRTs must be local files")
    if expected is VRT and not rules.allow_vrt:
        raise SourceRefused(_name(path), "VRT sources are not enabled (settings: sources.allow_vrt, or ogcserver serve --allow-vrt)")
    return expected


BAND_STACK = SourceFormat("band stack", "VRT", ())  # files of one band each, read as one raster (band_stack.py)


def check_source(path: str, rules: SourceRules) -> SourceFormat:
    """Everything that can be checked before GDAL opens the file: its path, its format and, for a
    VRT, every source it names (recursively); for a band stack, each of its files."""
    stack = parse_stack_path(path)
    if stack is not None:
        for member in stack.files:
            if source_format(member, rules) not in BAND_FILE_FORMATS:
                raise SourceRefused(stack.name, f"'{_name(member)}': band files are GeoTIFF, JPEG 2000 or "
                                                "Erdas Imagine files")
        return BAND_STACK
    fmt = source_format(path, rules)
    if fmt is VRT:
        _check_vrt(path, rules, depth=0, seen=frozenset())
    return fmt


def open_source(path: str, rules: SourceRules, **options: object) -> rasterio.DatasetReader:
    """Check the file, then open it with its format's driver alone (a band stack: its files, as
    one in-memory VRT naming them alone)."""
    fmt = check_source(path, rules)
    if fmt is BAND_STACK:
        from ogcserver.storage.readers.band_stack import open_stack  # it opens each band file through here

        return open_stack(parse_stack_path(path), rules, **options)  # type: ignore[arg-type]
    with remote.reachable(path) as name:
        return rasterio.open(name, driver=fmt.driver, **options)


# -- VRT --------------------------------------------------------------------------------------
def _vrt_tree(path: str) -> list[tuple[str, dict[str, str], str]]:
    """(element, attributes, text) of every element, parsed by expat with no DTD: a document
    declaring one (entities) is refused, and expat never loads anything external."""
    name = _name(path)
    if os.path.getsize(path) > MAX_VRT_BYTES:
        raise SourceRefused(name, f"the VRT is larger than {MAX_VRT_BYTES // 2**20} MiB")
    elements: list[tuple[str, dict[str, str], str]] = []
    open_elements: list[int] = []
    parser = xml.parsers.expat.ParserCreate()

    def doctype(*_args: object) -> None:
        raise SourceRefused(name, "a VRT with a DOCTYPE is not accepted")

    def start(tag: str, attributes: dict[str, str]) -> None:
        open_elements.append(len(elements))
        elements.append((tag, attributes, ""))

    def end(_tag: str) -> None:
        open_elements.pop()

    def text(data: str) -> None:
        if open_elements:
            i = open_elements[-1]
            tag, attributes, so_far = elements[i]
            elements[i] = (tag, attributes, so_far + data)

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        with open(path, "rb") as handle:
            parser.ParseFile(handle)
    except xml.parsers.expat.ExpatError as exc:
        raise SourceRefused(name, f"the VRT is not well-formed XML ({xml.parsers.expat.errors.messages[exc.code]})") from None
    return elements


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _check_vrt(path: str, rules: SourceRules, depth: int, seen: frozenset[str]) -> None:
    name = _name(path)
    if depth > MAX_VRT_DEPTH:
        raise SourceRefused(name, f"VRTs nested more than {MAX_VRT_DEPTH} deep are not accepted")
    real = os.path.realpath(path)
    if real in seen:
        raise SourceRefused(name, "the VRT names itself through its sources")
    folder = os.path.dirname(os.path.abspath(path))
    for tag, attributes, text in _vrt_tree(path):
        if tag in VRT_REFUSED_ELEMENTS:
            raise SourceRefused(name, VRT_REFUSED_ELEMENTS[tag])
        subclass = attributes.get("subClass") or attributes.get("subclass")
        if subclass:
            raise SourceRefused(name, VRT_SUBCLASSES.get(subclass, f"VRT subclass '{subclass[:40]}' is not accepted"))
        for value in ([text] if tag == "SRS" else []) + [attributes.get("Projection", "")]:
            if URL.search(value) and not value.strip().startswith(LOCAL_CRS_URI):
                raise SourceRefused(name, "a CRS given as a URL is not accepted in a VRT")
        if tag not in VRT_PATH_ELEMENTS:
            continue
        source = text.strip()
        if NOT_A_FILE.match(source):
            raise SourceRefused(name, f"source '{source[:80]}' is not a local file: network, virtual file "
                                      "system and GDAL connection paths are not accepted")
        relative = attributes.get("relativeToVRT", attributes.get("relativetoVRT", "0")).strip() == "1"
        target = os.path.realpath(os.path.join(folder, source) if relative else source)
        if not _inside(target, rules.roots):
            raise SourceRefused(name, f"source '{source[:80]}' lies outside the data roots (settings: sources.roots)")
        try:
            if source_format(target, rules) is VRT:
                _check_vrt(target, rules, depth + 1, seen | {real})
        except SourceRefused as exc:
            raise SourceRefused(name, f"source '{source[:80]}': {exc.reason}") from None


# -- the opened dataset -------------------------------------------------------------------------
def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def check_dataset(ds: rasterio.DatasetReader, path: str, rules: SourceRules) -> None:
    """Refuse an opened dataset beyond the configured sizes, or without a usable georeferencing."""
    name = _name(path)
    if ds.count > rules.max_bands:
        raise SourceRefused(name, f"{ds.count} bands; at most {rules.max_bands} (settings: sources.max_bands)")
    if max(ds.width, ds.height) > rules.max_side:
        raise SourceRefused(name, f"{ds.width} x {ds.height} pixels; at most {rules.max_side} a side "
                                  "(settings: sources.max_side)")
    _check_georeferencing(ds, name)
    itemsize = np.dtype(ds.dtypes[0]).itemsize
    block_h, block_w = ds.block_shapes[0]
    interleaved = ds.interleaving is not None and ds.interleaving.name == "pixel"  # one block holds every band
    per_block = block_h * block_w * itemsize * (ds.count if interleaved else 1)
    if per_block > rules.max_block_bytes:
        raise SourceRefused(name, f"a block of {block_w} x {block_h} pixels ({_size(per_block)}) must be decoded "
                                  f"whole to read any pixel of it; at most {_size(rules.max_block_bytes)} "
                                  "(settings: sources.max_block_bytes)")
    if ds.driver == "GTiff" and ds.compression is None:
        declared = ds.width * ds.height * ds.count * itemsize
        actual = file_size(path)
        if declared > actual * rules.max_uncompressed_ratio:
            raise SourceRefused(name, f"an uncompressed file of {_size(actual)} declares {_size(declared)} of "
                                      f"pixels (more than {rules.max_uncompressed_ratio:g} times its size; "
                                      "settings: sources.max_uncompressed_ratio)")
    if ds.driver == "GTiff":
        _check_blocks(ds, path, name)
    limit = rules.overviews_required_above
    if limit is not None and max(ds.width, ds.height) > limit and not ds.overviews(1):
        raise SourceRefused(name, f"{ds.width} x {ds.height} pixels without overviews (add them with gdaladdo); "
                                  f"overviews are required above {limit} pixels a side "
                                  "(settings: sources.overviews_required_above)")


def _check_blocks(ds: rasterio.DatasetReader, path: str, name: str) -> None:
    """Every tile or strip lies inside the file: a truncated file, or a broken offset or byte
    count, is refused here instead of reading as a blank image. Beyond MAX_CHECKED_BLOCKS blocks
    an even sample (always with the last block) is checked."""
    size = file_size(path)
    block_h, block_w = ds.block_shapes[0]
    cols, rows = -(-ds.width // block_w), -(-ds.height // block_h)
    total = cols * rows
    step = max(1, total // MAX_CHECKED_BLOCKS)
    bands = {1, ds.count} if ds.interleaving is not None and ds.interleaving.name == "band" else {1}
    for band in bands:
        for n in [*range(0, total, step), total - 1]:
            col, row = n % cols, n // cols
            offset = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
            count = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
            if offset and count and int(offset) + int(count) > size:
                raise SourceRefused(name, f"block {col},{row} of band {band} lies past the end of the file "
                                          f"({size} bytes): the file is truncated, or an offset or byte count "
                                          "is broken")


def _check_georeferencing(ds: rasterio.DatasetReader, name: str) -> None:
    t = ds.transform
    if by_ground_model(ds):  # read through GDAL's GCP or RPC transformer (georeferencing.py)
        return
    if t.is_identity and len(ds.gcps[0]) >= MIN_GCPS:  # GDAL turns a lone tie point without a scale into one GCP
        raise SourceRefused(name, "no geotransform, and GCPs without a CRS")
    coefficients = (t.a, t.b, t.c, t.d, t.e, t.f)
    if t.is_identity or not all(math.isfinite(v) for v in coefficients) or t.a * t.e - t.b * t.d == 0:
        raise SourceRefused(name, f"no usable geotransform (pixel size {t.a:g} x {t.e:g}: missing, zero, "
                                  "infinite or not a number)")
    if ds.crs is None:
        raise SourceRefused(name, "no CRS")


def default_roots(paths: list[Path]) -> tuple[str, ...]:
    """Resolved data roots: the folders and files a configuration publishes; for a VRT file, the
    folder holding it, where the files it names usually lie beside it."""
    real = (os.path.realpath(p) for p in paths)
    return tuple(dict.fromkeys(os.path.dirname(r) if r.lower().endswith(".vrt") and os.path.isfile(r) else r
                               for r in real))
