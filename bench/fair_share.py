"""One client floods the server with 2048 px GetMaps; how slow do another client's maps get?

Starts the server (2 workers) on a generated 2048 px layer, times a second client's 256 px maps
alone, then again while the first client keeps ``--conc`` maps in flight for ``--seconds``. Both
connect from 127.0.0.1 and are told apart by X-Forwarded-For (127.0.0.1 is a trusted proxy).
Prints the other client's p95 alone and under the flood, and the flooder's 200s and 429s.

    .venv/bin/python bench/fair_share.py [--conc 50] [--seconds 10] [--threads 1] [--share N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import running_server
from tests.support.flood import flood, light_client, map_url, ratio, write_flood_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conc", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--share", type=int, help="server.concurrent_per_client (0: off; default: the server's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        extra = {} if args.share is None else {"concurrent_per_client": args.share}
        config = write_flood_config(Path(folder), threads=args.threads, **extra)
        with running_server(config, workers=2) as url:
            light = map_url(url, 256)
            light_client(light, "192.0.2.2", 3, 0.0)
            alone = light_client(light, "192.0.2.2", 40, 0.05)
            flooded, other = flood(map_url(url, 2048), "192.0.2.1", args.conc, args.seconds,
                                   lambda: light_client(light, "192.0.2.2", 40, 0.05))
    print(f"other client p95: {alone.p95():.3f} s alone, {other.p95():.3f} s under the flood "
          f"({ratio(other, alone):.2f}x); refused {other.statuses.count(429)} of {len(other.statuses)}")
    print(f"flooder: {flooded.statuses.count(200)} maps, {flooded.statuses.count(429)} refused (429)")


if __name__ == "__main__":
    main()
