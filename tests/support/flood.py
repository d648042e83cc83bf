"""One client floods a live server while another makes light requests, both through a trusted
proxy header so they count as two callers though both connect from 127.0.0.1."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml
from rasterio.transform import from_origin

from tests.support import rasters

X0, Y0 = rasters.ORIGIN
SIZE = 2048


def write_flood_config(folder: Path, threads: int = 1, workers: int = 2, **server) -> Path:
    """A 2048 px RGB layer and a server trusting 127.0.0.1's X-Forwarded-For, no access section."""
    image = folder / "big.tif"
    if not image.exists():
        data = rasters.texture((SIZE, SIZE), 3, seed=11)
        rasters.write(image, data, from_origin(X0, Y0, rasters.RES, rasters.RES))
    config = {
        "server": {"data_dir": str(folder / "state"), "index_refresh_seconds": 0, "threads": threads,
                   "workers": workers, "trusted_proxies": ["127.0.0.1/32"], "access_log": False, **server},
        "cache": {"enabled": False},
        "services": [{"name": "s", "layers": [{"name": "big", "source": str(image)}]}],
    }
    path = folder / "ogcserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def map_url(base: str, size: int) -> str:
    extent = SIZE * rasters.RES
    return (f"{base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=big&STYLES=&CRS=EPSG:32632"
            f"&BBOX={X0},{Y0 - extent},{X0 + extent},{Y0}&WIDTH={size}&HEIGHT={size}&FORMAT=image/png")


@dataclass
class Calls:
    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    retry_after: set[str] = field(default_factory=set)

    def p95(self) -> float:
        return statistics.quantiles(self.seconds, n=20)[-1] if len(self.seconds) >= 2 else float("nan")


def call(session: requests.Session, url: str, address: str, calls: Calls) -> None:
    started = time.perf_counter()
    r = session.get(url, headers={"X-Forwarded-For": address}, timeout=60)
    calls.seconds.append(time.perf_counter() - started)
    calls.statuses.append(r.status_code)
    if r.status_code == 429:
        calls.retry_after.add(r.headers.get("Retry-After", ""))


def light_client(url: str, address: str, count: int, pause: float) -> Calls:
    calls = Calls()
    with requests.Session() as session:
        for _ in range(count):
            call(session, url, address, calls)
            time.sleep(pause)
    return calls


def flood(url: str, address: str, concurrency: int, seconds: float, during) -> tuple[Calls, object]:
    """``concurrency`` connections send ``url`` back to back for ``seconds`` while ``during()`` runs."""
    calls, stop = Calls(), threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                call(session, url, address, calls)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    try:
        time.sleep(min(1.0, seconds / 4))  # let the flood build up
        result = during()
        time.sleep(max(0.0, seconds - min(1.0, seconds / 4)))
    finally:
        stop.set()
        for t in threads:
            t.join(90)
    return calls, result


def ratio(under: Calls, baseline: Calls) -> float:
    return under.p95() / baseline.p95()


__all__ = ["Calls", "flood", "light_client", "map_url", "ratio", "write_flood_config"]
