# Shared by the ogcserver adapters (ogcserver.sh: the server alone; ogcserver_front.sh: the
# documented nginx static front before it). Source after the harness's _lib.sh.
PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OGCSERVER="${OGCSERVER_BIN:-$PROJECT/.venv/bin/ogcserver}"
CONFIG="$RUN/ogcserver.yaml"

# write_config PORT : the benchmark layers, state (tile cache, index) under $RUN/state
write_config() {
  local port=$1
  cat >"$CONFIG" <<YAML
server:
  host: 127.0.0.1
  port: $port
  workers: 2
  access_log: false
  data_dir: $RUN/state
  index_refresh_seconds: 30
rendering:
  png_compression: ${OGCSERVER_PNG_LEVEL:-1}
  jpeg_quality: 75
processing:
  - name: shade
    chain: [{function: hillshade, azimuth: 315, altitude: 45, z_factor: 1}]
services:
  - name: bench
    layers:
      - name: ortho
        source: $DATA/ortho
        pattern: "ortho_*.tif"
      - name: ortho_live
        source: $DATA/ortho
        pattern: "ortho_*.tif"
        cache: false
      - name: dem
        source: $DATA/dem.tif
      - name: dem_shade
        source: $DATA/dem.tif
        styles: [shade]
        default_style: shade
        cache: false
YAML
}

# start_ogcserver PORT : start the server with that config and wait for it
start_ogcserver() {
  write_config "$1"
  start_bg server "$OGCSERVER" serve -c "$CONFIG"
  wait_http "http://127.0.0.1:$1/healthz" 120
}

ogcserver_templates() {
    echo "W1 /wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ortho&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    echo "W2 /wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ortho&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=512&HEIGHT=512&FORMAT=image/jpeg"
    echo "W3 /tiles/ortho_live/WebMercatorQuad/{z}/{x}/{y}.png"
    echo "W4 /wcs?SERVICE=WCS&VERSION=1.0.0&REQUEST=GetCoverage&COVERAGE=dem&CRS=EPSG:32618&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=1024&HEIGHT=1024&FORMAT=GTiff"
    echo "W5 /tiles/dem_shade/WebMercatorQuad/{z}/{x}/{y}.png"
    echo "W6 /tiles/ortho/WebMercatorQuad/{z}/{x}/{y}.png"
}

ogcserver_settings() {
    cat <<S
version: ogcserver $("$PROJECT/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("ogcserver"), "rasterio", m.version("rasterio"), "flask", m.version("flask"), "granian", m.version("granian"))'), GDAL $("$PROJECT/.venv/bin/python" -c 'import rasterio; print(rasterio.__gdal_version__)') (rasterio wheel)
processes: granian (WSGI), 2 worker processes, 1 blocking thread each, no front proxy, access log off
tiles: W3 renders every tile (layer with cache: false); W6 is served from the directory tile cache filled by prepare (metatiles 4x4)
mosaic: folder of the 16 COGs indexed in SQLite with an R*Tree and traced footprints; per request only the intersecting items are warped (WarpedVRT, newest on top, stops when the view is covered)
resampling: nearest for reprojection; overview chosen as the coarsest still at least as fine as the output
wcs: W4 reads the DEM's overview (or the full resolution below 2x) as a window, nearest, values untouched; GeoTIFF written in memory, uncompressed strips
png: ogcserver's writer (Up filter on every row, zlib run-length strategy, level ${OGCSERVER_PNG_LEVEL:-1}), 24-bit when fully opaque; jpeg: Pillow quality 75
GDAL_CACHEMAX: $GDAL_CACHEMAX MB per process; GDAL_NUM_THREADS=$GDAL_NUM_THREADS; GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR
S
}
