"""A web page on another origin that draws our XYZ tiles with OpenLayers, in headless Chromium.

OpenLayers comes from its npm package, installed once into a git-ignored cache folder and
served with the page by a second local HTTP server, so the page's origin differs from the
tile server's by its port and every request stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from tests.support.browser import Browser

REPO = Path(__file__).resolve().parents[2]
NPM_CACHE = REPO / ".cache" / "npm"
OPENLAYERS = "ol@10.11.0"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="ol.css"><script src="ol.js"></script>
<style>html, body, #map { margin: 0; width: 256px; height: 256px; }</style></head>
<body><div id="map"></div><pre id="result">pending</pre>
<script>
const q = new URLSearchParams(location.search);
const counts = {loaded: 0, failed: 0};
const source = new ol.source.XYZ({url: q.get("tiles"), crossOrigin: "anonymous", transition: 0});
const show = (state) => { document.getElementById("result").textContent = state; };
source.on("tileloadend", () => { counts.loaded++; show("pending " + JSON.stringify(counts)); });
source.on("tileloaderror", () => { counts.failed++; show("pending " + JSON.stringify(counts)); });
const map = new ol.Map({
  target: "map", controls: [], interactions: [], layers: [new ol.layer.Tile({source})],
  view: new ol.View({center: ol.proj.fromLonLat([+q.get("lon"), +q.get("lat")]), zoom: +q.get("zoom")}),
});
map.once("rendercomplete", () => {
  const canvas = document.querySelector("#map canvas");
  let pixel = null, error = null;
  try {  // the centre pixel as drawn; a canvas tainted by a tile read without CORS refuses this
    pixel = Array.from(canvas.getContext("2d").getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data);
  } catch (e) { error = String(e); }
  show(JSON.stringify({...counts, pixel, error}));
});
</script></body></html>
"""


def openlayers() -> Path:
    """The folder holding OpenLayers' browser build (ol.js, ol.css), installed by npm if missing."""
    package = NPM_CACHE / "node_modules" / "ol"
    if not (package / "dist" / "ol.js").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is not installed"
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(NPM_CACHE), "--no-audit", "--no-fund",
                               "--no-save", OPENLAYERS], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm could not install {OPENLAYERS}:\n{done.stderr[-3000:]}"
    return package


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def page_server(folder: Path) -> Iterator[str]:
    """The map page and OpenLayers served from ``folder`` on a port of its own; yields its URL."""
    package = openlayers()
    shutil.copy(package / "dist" / "ol.js", folder / "ol.js")
    shutil.copy(package / "ol.css", folder / "ol.css")
    (folder / "index.html").write_text(PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def draw_tiles(page: str, tiles: str, lon: float, lat: float, zoom: int, profile: Path) -> dict:
    """What the page reports after drawing ``tiles`` (an XYZ URL template) around lon/lat:
    tiles loaded and failed, and the RGBA of the map's centre pixel. The page is watched in real
    time: a virtual-time budget can run out on a loaded machine before the last tile answers."""
    url = page + "?" + urlencode({"tiles": tiles, "lon": lon, "lat": lat, "zoom": zoom})
    with Browser(profile, size=(256, 400)) as browser:
        browser.open(url)
        text = browser.wait_for("(t => t.startsWith('pending') ? null : t)"
                                "(document.getElementById('result').textContent)")
    return json.loads(text)
