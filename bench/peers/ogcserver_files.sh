#!/usr/bin/env bash
# Baseline for the static front: nginx alone (configured exactly like the harness's nginx_static)
# serving the very files ogcserver wrote to its directory cache. The front's W6 over this one is
# "the front against nginx serving the files alone"; nginx_static serves other files (PNG level 6).
NAME=ogcserver_files
source "$BENCH_HOME/servers/_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_ogcserver.sh"
PORT=18063
BACKEND=18064

case "${1:-}" in
  start)
    port_free $PORT || exit 1
    port_free $BACKEND || exit 1
    start_ogcserver $BACKEND || exit 1
    nginx_start 2 $PORT "
    location /tiles/ortho/WebMercatorQuad/ {
      alias $RUN/state/tiles/ortho/default/WebMercatorQuad/current/;
      open_file_cache max=10000 inactive=60s;
    }
    location = /ok { return 200 'ok'; }" || { $0 stop; exit 1; }
    wait_http "http://127.0.0.1:$PORT/ok" 20
    ;;
  prepare)
    # ogcserver renders and stores every W6 tile; nginx then serves them as plain files
    "$VENV/bin/python" "$BENCH/fetch_all.py" "http://127.0.0.1:$BACKEND" "$2/W6.txt" 2
    ;;
  stop) stop_pids ;;
  base) echo "http://127.0.0.1:$PORT" ;;
  templates)
    for w in W1 W2 W3 W4 W5; do echo "$w UNSUPPORTED static files only (measured on W6)"; done
    echo "W6 /tiles/ortho/WebMercatorQuad/{z}/{x}/{y}.png"
    ;;
  settings)
    cat <<S
version: nginx $(nginx -v 2>&1 | cut -d/ -f2) (Debian)
processes: nginx worker_processes 2, sendfile on, open_file_cache max=10000, access_log off (as nginx_static)
tiles: the W6 tiles as ogcserver stored them (4x4 metatiles, PNG zlib level ${OGCSERVER_PNG_LEVEL:-1}), served from the cache's current version folder
S
    ;;
  *) echo "usage: $0 start|stop|base|templates|settings|prepare" >&2; exit 2 ;;
esac
