"""``ogcserver analysis run`` and ``ogcserver analysis zonal``: jobs from the command line, with
progress (chunks done, rate, ETA), Ctrl-C (the cluster's futures are cancelled; a re-run
resumes) and JSON results."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from ogcserver.analysing.cluster import cluster_client
from ogcserver.analysing.products import JobCancelled, run_product
from ogcserver.analysing.zonal import run_zonal
from ogcserver.composition import build_core
from ogcserver.core.analysis.inputs import spec_from_inputs
from ogcserver.core.analysis.zonal import zonal_job
from ogcserver.settings import Settings


def _json_file(path: str | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the {what} file is not JSON: {exc.msg} (line {exc.lineno})") from None


@contextmanager
def interrupt_flag() -> Iterator[Callable[[], bool]]:
    """Ctrl-C while the block runs asks the job to stop (it cancels its futures at its next
    check, within a second); a second Ctrl-C interrupts at once."""
    asked: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


def analysis_inputs(args: Any) -> dict:
    """The job's inputs from the command line, as a Processes request would give them."""
    return {"template": args.template, "chain": args.chain, "bbox": args.bbox, "crs": args.crs,
            "resolution": args.res, "time": args.time, "polygon": _json_file(args.polygon, "polygon"),
            "output": getattr(args, "out", None)}


def run_analysis(settings: Settings, args: Any) -> int:
    core = build_core(settings)
    layer = core.engine.operator_layer(args.layer)
    spec = spec_from_inputs(core.engine, layer, analysis_inputs(args), chunk_size=settings.analysis.chunk_size)
    bar = tqdm(unit="chunk", file=sys.stderr, dynamic_ncols=True, mininterval=1.0)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        with interrupt_flag() as stopped, cluster_client(settings.analysis, args.cluster) as client:
            result = run_product(core, settings, spec, client, args.overwrite, progress, stopped)
    except (KeyboardInterrupt, JobCancelled):
        bar.close()
        print(f"\ninterrupted: {bar.n} of {bar.total} chunks written; run the same command again to resume",
              file=sys.stderr)
        return 130
    bar.close()
    print(f"{result.name}: {result.width}x{result.height} px, {result.chunks} chunks "
          f"({result.computed} computed, {result.chunks - result.computed} already done) -> {result.path}",
          file=sys.stderr)
    print("publish it with this layer (in the service's layers) and grants:", file=sys.stderr)
    print(yaml.safe_dump(result.note, sort_keys=False), file=sys.stderr)
    return 0


def run_zonal_command(settings: Settings, args: Any) -> int:
    core = build_core(settings)
    layer = core.engine.operator_layer(args.layer)
    inputs = {**analysis_inputs(args), "zones": _json_file(args.zones, "zones"), "bins": args.bins,
              "range": args.range.split(",") if args.range else None}
    job = zonal_job(core.engine, layer, inputs, settings.analysis)
    with cluster_client(settings.analysis, args.cluster) as client:
        result = run_zonal(core, settings, job, client)
    print(json.dumps(result, indent=1))
    return 0
