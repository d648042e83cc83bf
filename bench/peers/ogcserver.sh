#!/usr/bin/env bash
# ogcserver adapter for the peer benchmark harness (see its README, "Adding a server").
# Starts the project's own server from the project's virtualenv with 2 worker processes.
NAME=ogcserver
source "$BENCH_HOME/servers/_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_ogcserver.sh"
PORT=18060

case "${1:-}" in
  start)
    port_free $PORT || exit 1
    start_ogcserver $PORT
    ;;
  prepare)
    # the harness calls this after start: fetch every W6 tile once, so every measured W6 request is a hit
    "$VENV/bin/python" "$BENCH/fetch_all.py" "http://127.0.0.1:$PORT" "$2/W6.txt" 2
    ;;
  stop) stop_pids ;;
  base) echo "http://127.0.0.1:$PORT" ;;
  templates) ogcserver_templates ;;
  settings) ogcserver_settings ;;
  *) echo "usage: $0 start|stop|base|templates|settings|prepare" >&2; exit 2 ;;
esac
