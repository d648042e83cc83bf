"""What the admin API does, without HTTP: each operation takes plain values and returns a status
and a JSON-ready answer, or raises AdminError with the status and the messages to show."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ogcserver.admin.config_file import ConfigFile
from ogcserver.admin.documents import DocumentError, add_layer, merge_patch, remove_layer
from ogcserver.admin.jobs import Jobs
from ogcserver.composition import Core
from ogcserver.core import seed, tiling
from ogcserver.model.errors import LayerNotFound, OgcServerError
from ogcserver.model.redaction import redacted
from ogcserver.settings import ConfigError, Settings
from ogcserver.web.admin import AdminError, Answer
from ogcserver.web.reload import RESTART_ONLY, NoServer, signal_reload

log = logging.getLogger("ogcserver")


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _zooms(value: int | str | list[int]) -> tuple[int, int]:
    """A zoom, "first-last", or [first, last]."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, str):
        first, _, last = value.partition("-")
        try:
            return int(first), int(last or first)
        except ValueError:
            raise ValueError("give zooms as a number, 'first-last' or [first, last]") from None
    if len(value) != 2:
        raise ValueError("give zooms as a number, 'first-last' or [first, last]")
    return value[0], value[1]


def _zoom_range(value: Any) -> tuple[int, int]:
    first, last = _zooms(value)
    if not 0 <= first <= last <= 30:
        raise ValueError("zooms must be 0 <= first <= last <= 30")
    return first, last


ZoomRange = Annotated[tuple[int, int], BeforeValidator(_zoom_range)]


class SeedRequest(_Request):
    layer: str = Field(max_length=64)
    zooms: ZoomRange
    bbox: tuple[float, float, float, float] | None = None  # minlon, minlat, maxlon, maxlat
    tms: str = Field("WebMercatorQuad", max_length=80)
    format: Literal["png", "jpg"] = "png"


class TruncateRequest(_Request):
    layer: str = Field(max_length=64)
    tms: str = Field("WebMercatorQuad", max_length=80)
    zooms: ZoomRange | None = None  # none: every cached tile of the layer


class LayerRequest(_Request):
    service: str = Field(max_length=64)
    layer: dict[str, Any]


def _parsed(model: type[_Request], body: Any) -> Any:
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        messages = tuple(f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors())
        raise AdminError(400, "invalid request", messages) from None


class Administration:
    def __init__(self, settings: Settings, core: Core, config_file: Path | None) -> None:
        self.settings = settings
        self.core = core
        self.file = ConfigFile(config_file) if config_file is not None else None
        self.jobs = Jobs(settings.server.data_dir / "jobs", self.file.path if self.file else Path(),
                         settings.admin.max_jobs)
        self.max_seed_tiles = settings.admin.max_seed_tiles

    # -- configuration -------------------------------------------------------------------------
    def config(self) -> Answer:
        """The configuration this process serves, secrets redacted."""
        return 200, {"file": str(self.file.path) if self.file else None, "config": redacted(self.settings)}

    def replace_config(self, document: Any) -> Answer:
        return self._change(lambda _current: document)

    def patch_config(self, patch: Any) -> Answer:
        if not isinstance(patch, dict):
            raise AdminError(400, "a merge patch must be a mapping of keys")
        return self._change(lambda current: merge_patch(current, patch))

    def add_layer(self, body: Any) -> Answer:
        request = _parsed(LayerRequest, body)
        return self._change(lambda current: add_layer(current, request.service, request.layer), 201)

    def remove_layer(self, name: str) -> Answer:
        return self._change(lambda current: remove_layer(current, name))

    def _change(self, edit: Callable[[Any], Any], status: int = 200) -> Answer:
        """Edit the file's document, validate it, write it, reload: all or nothing."""
        if self.file is None:
            raise AdminError(409, "the server was started without a configuration file: nothing to change")
        with self.file.locked():
            current = self.file.document()
            try:
                document = edit(current)
            except DocumentError as exc:
                raise AdminError(exc.status, str(exc)) from None
            try:
                settings = self.file.validate(document)
            except ConfigError as exc:
                lines = str(exc).splitlines()
                raise AdminError(422, lines[0], tuple(line.strip() for line in lines[1:])) from None
            self.file.replace(document)
        layers = sum(len(s.layers) for s in settings.services)
        return status, {"status": "written", "file": str(self.file.path), "backup": str(self.file.backup),
                        "services": len(settings.services), "layers": layers, "reload": self._reload(),
                        "restart_needed_for": self._restart_only_changes(current, settings)}

    def _restart_only_changes(self, previous: Any, settings: Settings) -> list[str]:
        """The changed server keys a reload keeps as started (the listening socket, the workers)."""
        try:
            before = self.file.validate(previous).server if self.file else settings.server
        except ConfigError:
            return []  # the file was already invalid: nothing to compare with
        return [f"server.{key}" for key in RESTART_ONLY if getattr(before, key) != getattr(settings.server, key)]

    def _reload(self) -> str:
        try:
            pid = signal_reload(self.settings.server.pid_path, from_worker=True)
        except (NoServer, OSError) as exc:
            log.warning("configuration written, no reload signalled", extra={"reason": str(exc)})
            return f"not signalled ({exc}); run 'ogcserver reload' or restart the server to apply it"
        return f"signalled to process {pid}"

    # -- catalog, cache and seeds --------------------------------------------------------------
    def refresh(self, collection: str) -> Answer:
        names = [layer.name for s in self.settings.services for layer in s.layers if layer.collection_name == collection]
        if not names:
            raise AdminError(404, f"no layer serves collection '{collection[:80]}'")
        try:
            self.core.catalog.refresh(force=True)
        except OgcServerError as exc:
            raise AdminError(503, exc.message) from None
        served = {layer.info.name for layer in self.core.engine.operator_layers()}
        return 200, {"collection": collection, "layers": {name: name in served for name in names}}

    def seed(self, body: Any) -> Answer:
        request = _parsed(SeedRequest, body)
        if self.file is None:
            raise AdminError(409, "the server was started without a configuration file: seeds read it")
        self._require_cache()
        info, tms = self._layer_tms(request.layer, request.tms)
        try:
            area = seed.lonlat_area(",".join(map(str, request.bbox)) if request.bbox else None, info.lonlat_bounds)
        except ValueError as exc:
            raise AdminError(400, str(exc)) from None
        zooms = range(request.zooms[0], request.zooms[1] + 1)
        if zooms.stop - 1 > tms.maxzoom:
            raise AdminError(400, f"tile matrix set {tms.id} ends at zoom {tms.maxzoom}")
        estimate = seed.area_tiles(tms, area, zooms)
        if estimate > self.max_seed_tiles:
            raise AdminError(400, f"the seed covers {estimate} tiles, more than {self.max_seed_tiles} "
                                  "(admin.max_seed_tiles); use 'ogcserver seed' for large areas")
        job = self.jobs.start(request.model_dump() | {"tms": tms.id})
        if job is None:
            raise AdminError(429, f"{self.jobs.max_running} jobs are running already (admin.max_jobs)")
        return 202, {"job": job, "href": f"/admin/jobs/{job}", "tiles": estimate}

    def job(self, job: str) -> Answer:
        state = self.jobs.status(job)
        if state is None:
            raise AdminError(404, "no such job")
        return 200, state

    def truncate(self, body: Any) -> Answer:
        request = _parsed(TruncateRequest, body)
        self._require_cache()
        info, tms = self._layer_tms(request.layer, request.tms)
        zooms = range(request.zooms[0], request.zooms[1] + 1) if request.zooms else None
        removed = self.core.tiles.truncate(info.name, tms.id, zooms)
        return 200, {"layer": info.name, "tms": tms.id if zooms else None, "removed": removed}

    def _require_cache(self) -> None:
        if self.core.tile_store is None:
            raise AdminError(409, "the tile cache is off in this configuration")

    def _layer_tms(self, name: str, tms_id: str) -> tuple[Any, tiling.TileMatrixSet]:
        try:
            info = self.core.engine.operator_layer(name).info
        except LayerNotFound:
            raise AdminError(404, f"layer '{name[:80]}' is not served") from None
        try:
            return info, tiling.for_layer(info, tms_id)
        except (OgcServerError, ValueError, KeyError) as exc:
            raise AdminError(400, f"tile matrix set '{tms_id[:80]}' is not offered by layer '{name}'") from exc

