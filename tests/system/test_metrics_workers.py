"""One /metrics scrape of a live server sums every worker's requests (checked against the access log)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import serving, write_config

REQUESTS = 60


def requests_counted(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=30).text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "ogcserver_requests")
    assert all("pid" not in s.labels for s in family.samples)
    return sum(s.value for s in family.samples if s.labels["service"] == "WMS"
               and s.labels["request"] == "GetCapabilities" and s.name == "ogcserver_requests_total")


@pytest.mark.parametrize("http", ["granian", "gunicorn"])
def test_one_scrape_sums_both_workers(data_dir, tmp_path, http):
    config = write_config(data_dir, tmp_path / "ogcserver.yaml", http=http)
    with serving(["-c", str(config)], tmp_path, workers=2) as (url, log_path):
        def ask(_n: int) -> int:
            with requests.Session() as session:  # a connection each: the workers share them out
                return session.get(url + "/wms?SERVICE=WMS&REQUEST=GetCapabilities", timeout=60).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(REQUESTS))) == {200}
        scrapes = [requests_counted(url) for _ in range(4)]  # whichever worker answers the scrape
        logged = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        folder = Path(next(e["metrics_dir"] for e in logged if e.get("message") == "serving"))
        assert len({p.name.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}) >= 2  # a file per worker
    assert not folder.exists()  # removed when the server stops
    logged = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    answered = [e for e in logged if e.get("logger") == "ogcserver.access" and e.get("path") == "/wms"
                and "GetCapabilities" in e.get("query", "")]
    assert len(answered) == REQUESTS
    assert scrapes == [REQUESTS] * 4
