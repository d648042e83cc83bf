"""Fair share on a live server: one client's flood is refused beyond its share (429 with
Retry-After), another client is never refused. The latency ratio is measured, not asserted
(wall-clock belongs in bench/fair_share.py); run with -s to see it."""

from __future__ import annotations

from tests.conftest import running_server
from tests.support.flood import flood, light_client, map_url, ratio, write_flood_config

FLOODER, OTHER = "192.0.2.1", "192.0.2.2"


def test_a_flooding_client_is_refused_beyond_its_share_and_others_are_not(tmp_path):
    config = write_flood_config(tmp_path)
    with running_server(config, workers=2) as url:
        light = map_url(url, 256)
        light_client(light, OTHER, 3, 0.0)  # warm both workers
        baseline = light_client(light, OTHER, 20, 0.05)
        flooded, other = flood(map_url(url, 2048), FLOODER, 12, 4.0, lambda: light_client(light, OTHER, 20, 0.05))
    assert set(baseline.statuses) == {200}
    assert set(other.statuses) == {200}, other.statuses  # the other caller is never refused
    assert 200 in flooded.statuses and 429 in flooded.statuses
    assert set(flooded.statuses) <= {200, 429} and flooded.retry_after == {"1"}
    print(f"\nfair share: other p95 {baseline.p95():.3f} s alone, {other.p95():.3f} s under the flood "
          f"({ratio(other, baseline):.2f}x); flooder {flooded.statuses.count(200)} maps, "
          f"{flooded.statuses.count(429)} refused")
