"""A mixed load on a live server, and the resident memory of its workers while it runs.

The mix: WMS GetMap from 256 to 2048 pixels (PNG and JPEG, plain and processed), WCS 2.0
GetCoverage, XYZ tiles and GetFeatureInfo, over real rasters (a 36000 x 36000 land-cover tile,
overlapping 16-bit scenes, a float32 DEM, a 4-band aerial image). Used by the bounded system test
and by ``bench/worker_memory.py`` (the ten-minute version).
"""

from __future__ import annotations

import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import rasterio
import requests
import yaml
from rasterio.warp import transform_bounds

from tests.support.memory import peak_rss, rss

SIZES = (256, 512, 1024, 2048)


def layers(shared: Path) -> list[dict]:
    return [
        {"name": "landcover", "source": str(shared / "worldcover-2020-2021" / "ESA_WorldCover_10m_2021_v200_N00E006_Map.tif")},
        {"name": "scenes", "source": str(shared / "mosaic-landsat8-overlap"), "bands": [1, 2, 3]},
        {"name": "dem", "source": str(shared / "dem-swissalti3d" / "dem.tif"), "styles": ["shade", "smooth"]},
        {"name": "naip", "source": str(shared / "naip-rgbn" / "m_4112001_sw_10_060_20220716.tif"), "styles": ["ndvi"]},
    ]


def write_config(shared: Path, state: Path, target: Path, **server) -> Path:
    target.write_text(yaml.safe_dump({
        # the whole load comes from one address: no per-client share
        "server": {"data_dir": str(state), "index_refresh_seconds": 60, "access_log": False,
                   "concurrent_per_client": 0, **server},
        "processing": [
            {"name": "shade", "chain": [{"function": "hillshade"}]},
            {"name": "smooth", "chain": [{"function": "convolve", "size": 9}, {"function": "stretch"}]},
            {"name": "ndvi", "chain": [{"function": "normalized_difference", "a": 4, "b": 1},
                                       {"function": "colormap", "ramp": "rdylgn", "minimum": -1, "maximum": 1}]},
        ],
        "services": [{"name": "load", "layers": layers(shared)}],
    }))
    return target


def lonlat_bounds(shared: Path) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for layer in layers(shared):
        source = Path(layer["source"])
        files = sorted(source.glob("*.tif")) if source.is_dir() else [source]
        boxes = []
        for f in files:
            with rasterio.open(f) as ds:
                boxes.append(transform_bounds(ds.crs, "EPSG:4326", *ds.bounds))
        out[layer["name"]] = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                              max(b[2] for b in boxes), max(b[3] for b in boxes))
    return out


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.count += 1


class MixedLoad:
    """Random requests (seeded) over the layers' lon/lat bounds."""

    def __init__(self, url: str, bounds: dict[str, tuple[float, float, float, float]], seed: int = 1) -> None:
        self.url, self.bounds = url, bounds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def _area(self, layer: str) -> tuple[float, float, float, float]:
        w, s, e, n = self.bounds[layer]
        with self.lock:
            frac = self.rng.choice((1.0, 0.5, 0.1, 0.02))
            x = w + (e - w) * (1 - frac) * self.rng.random()
            y = s + (n - s) * (1 - frac) * self.rng.random()
        return x, y, x + (e - w) * frac, y + (n - s) * frac

    def request(self) -> tuple[str, dict]:
        with self.lock:
            kind = self.rng.choices(("map", "coverage", "tile", "info"), weights=(5, 2, 4, 2))[0]
            layer = self.rng.choice(sorted(self.bounds))
            size = self.rng.choice(SIZES)
            style = self.rng.choice({"dem": ("", "shade", "smooth"), "naip": ("", "ndvi")}.get(layer, ("",)))
            fmt = self.rng.choice(("image/png", "image/jpeg"))
        x0, y0, x1, y1 = self._area(layer)
        if kind == "tile":
            z = 8 + int(self.rng.random() * 6)
            x, y = tile_of(x0, y1, z)
            return f"{self.url}/tiles/{layer}/WebMercatorQuad/{z}/{x}/{y}.png", {}
        if kind == "coverage":
            return f"{self.url}/wcs", {"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage", "COVERAGEID": layer,
                                       "SUBSETTINGCRS": "http://www.opengis.net/def/crs/EPSG/0/4326",
                                       "SUBSET": [f"Lat({y0},{y1})", f"Long({x0},{x1})"],
                                       "SCALESIZE": f"i({min(size, 1024)}),j({min(size, 1024)})", "FORMAT": "image/tiff"}
        query = {"SERVICE": "WMS", "VERSION": "1.3.0", "LAYERS": layer, "STYLES": style, "CRS": "CRS:84",
                 "BBOX": f"{x0},{y0},{x1},{y1}", "WIDTH": size, "HEIGHT": size, "FORMAT": fmt}
        if kind == "info":
            query.update(REQUEST="GetFeatureInfo", QUERY_LAYERS=layer, I=size // 2, J=size // 3, INFO_FORMAT="application/json")
        else:
            query["REQUEST"] = "GetMap"
        return f"{self.url}/wms", query

    def run(self, seconds: float, concurrency: int, max_requests: int, sample=None) -> Tally:
        """Send requests from ``concurrency`` threads until time or count runs out; ``sample`` is
        called every quarter second meanwhile."""
        tally, stop = Tally(), time.monotonic() + seconds

        def client() -> None:
            session = requests.Session()
            while time.monotonic() < stop and tally.count < max_requests:
                url, query = self.request()
                tally.add(session.get(url, params=query, timeout=120).status_code)

        with ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(client) for _ in range(concurrency)]
            while not all(f.done() for f in futures):
                if sample is not None:
                    sample()
                time.sleep(0.25)
            for f in futures:
                f.result()
        return tally


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    lat = max(min(lat, 85.0), -85.0)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the server's workers)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


class WorkerMemory:
    """The workers' resident memory, sampled: the largest seen, and each worker's own peak."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.largest: dict[int, int] = {}

    def sample(self) -> None:
        for pid in children(self.server_pid):
            try:
                self.largest[pid] = max(self.largest.get(pid, 0), rss(pid), peak_rss(pid))
            except (OSError, KeyError):
                continue  # a worker that is being replaced


def server_pid(url: str) -> int:
    """The pid of the local server process listening on the URL's port (started with --port)."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and args[args.index(b"--port") + 1] == port.encode():
            return int(cmdline.parent.name)
    raise LookupError(f"no server process on port {port}")
