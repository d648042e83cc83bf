#!/usr/bin/env bash
# The documented static-front deployment (deploy/nginx-static-front.conf) for the peer harness:
# nginx serves the tiles in ogcserver's directory cache and forwards misses to ogcserver.
# Compare its W6 with nginx_static (nginx alone on pre-rendered files).
NAME=ogcserver_front
source "$BENCH_HOME/servers/_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_ogcserver.sh"
PORT=18061
BACKEND=18062
FRONT="$RUN/front"

# the shipped file with its placeholders filled in, plus what a private nginx instance needs
write_front() {
  mkdir -p "$FRONT"
  sed -e "s|CACHE_DIR|$RUN/state/tiles|g" -e "s|OGCSERVER|127.0.0.1:$BACKEND|g" \
      -e "s|listen 8080;|listen 127.0.0.1:$PORT;|" \
      -e "s|worker_processes auto;|worker_processes 2;\nuser root;\npid $RUN/nginx.pid;\nerror_log $FRONT/error.log warn;|" \
      "$PROJECT/deploy/nginx-static-front.conf" >"$FRONT/nginx.conf"
}

case "${1:-}" in
  start)
    port_free $PORT || exit 1
    port_free $BACKEND || exit 1
    start_ogcserver $BACKEND || exit 1
    write_front
    nginx -p "$FRONT" -c "$FRONT/nginx.conf" || { $0 stop; exit 1; }
    wait_http "http://127.0.0.1:$PORT/healthz" 20
    ;;
  prepare)
    # fill the cache through the front (misses go to ogcserver), so every measured W6 request is a hit
    "$VENV/bin/python" "$BENCH/fetch_all.py" "http://127.0.0.1:$PORT" "$2/W6.txt" 2
    ;;
  stop) stop_pids ;;
  base) echo "http://127.0.0.1:$PORT" ;;
  templates)
    for w in W1 W2 W3 W4 W5; do echo "$w UNSUPPORTED the front only changes cache hits (see ogcserver)"; done
    echo "W6 /tiles/ortho/WebMercatorQuad/{z}/{x}/{y}.png"
    ;;
  settings)
    cat <<S
version: nginx $(nginx -v 2>&1 | cut -d/ -f2) (Debian) in front of $("$PROJECT/.venv/bin/python" -c 'import importlib.metadata as m; print("ogcserver", m.version("ogcserver"))')
processes: nginx worker_processes 2 with deploy/nginx-static-front.conf as shipped; ogcserver behind it as in the ogcserver adapter
tiles: W6 filled by prepare through the front (ogcserver renders, 4x4 metatiles, PNG zlib level ${OGCSERVER_PNG_LEVEL:-1}); nginx then serves them from the directory cache via try_files
S
    ;;
  *) echo "usage: $0 start|stop|base|templates|settings|prepare" >&2; exit 2 ;;
esac
