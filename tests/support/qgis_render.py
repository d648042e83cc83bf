"""Load layers with QGIS's own providers and render them, as QGIS Desktop does.

Run by the system Python that QGIS's bindings belong to (Debian ``python3-qgis``), not by the test
environment: ``QT_QPA_PLATFORM=offscreen python3 qgis_render.py jobs.json results.json``. Each job
names a provider (``wms`` for WMS and WMTS, ``wcs``), a data source URI, the map's CRS, extent and
size in pixels, and a PNG to write. Each result says whether the layer loaded, its CRS and extent
as QGIS sees them, the extent QGIS actually rendered (QGIS widens the asked extent to square
pixels), and the errors the render reported. A job with ``times`` (ISO 8601 instants) is a
temporal layer: each time is rendered with the map's temporal range set to it, as QGIS's temporal
controller does, into ``<out>-<index>.png``, and the result says what QGIS's temporal
properties and its provider's temporal capabilities see. A job with ``identify`` (a point in the
map's CRS) also asks the provider for the values there as text, as QGIS's Identify tool does, and
the result gives the text.
"""

from __future__ import annotations

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsDateTimeRange,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPointXY,
    QgsRaster,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QDateTime, QSize, Qt
from qgis.PyQt.QtGui import QColor


def corners(rect: QgsRectangle) -> list[float]:
    return [rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()]


def render(job: dict) -> dict:
    layer = QgsRasterLayer(job["uri"], job["name"], job["provider"])
    if not layer.isValid():
        return {"valid": False, "error": layer.error().message(), "provider_error": layer.dataProvider().error().message()
                if layer.dataProvider() else ""}
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(job["crs"]))
    settings.setOutputSize(QSize(*job["size"]))
    settings.setExtent(QgsRectangle(*job["extent"]))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    errors = []
    for out, instant in outputs(job):
        if instant is not None:
            settings.setIsTemporal(True)
            settings.setTemporalRange(QgsDateTimeRange(instant, instant))
        renderer = QgsMapRendererSequentialJob(settings)
        renderer.start()
        renderer.waitForFinished()
        renderer.renderedImage().save(out, "PNG")
        errors += [f"{e.layerID}: {e.message}" for e in renderer.errors()]
    return {
        "valid": True,
        "crs": layer.crs().authid(),
        "extent": corners(layer.extent()),
        "rendered": corners(settings.visibleExtent()),
        "errors": errors,
        **temporal(layer),
        **identified(layer, job, settings),
    }


def identified(layer: QgsRasterLayer, job: dict, settings: QgsMapSettings) -> dict:
    """The provider's text answer at the job's ``identify`` point, on the map's extent and size."""
    if "identify" not in job:
        return {}
    size = settings.outputSize()
    found = layer.dataProvider().identify(QgsPointXY(*job["identify"]), QgsRaster.IdentifyFormatText,
                                          settings.visibleExtent(), size.width(), size.height())
    return {"identified": "\n".join(str(v) for v in found.results().values()) if found.isValid() else "",
            "identify_error": found.error().message()}


def instant(text: str) -> QDateTime:
    return QDateTime.fromString(text, Qt.ISODate)


def outputs(job: dict) -> list[tuple[str, QDateTime | None]]:
    """Where each render goes, with the instant it shows (None: not temporal)."""
    if not job.get("times"):
        return [(job["out"], None)]
    stem = job["out"].removesuffix(".png")
    return [(f"{stem}-{i}.png", instant(t)) for i, t in enumerate(job["times"])]


def temporal(layer: QgsRasterLayer) -> dict:
    """What QGIS sees of the layer's time: its temporal properties and its provider's range."""
    capabilities = layer.dataProvider().temporalCapabilities()
    available = capabilities.availableTemporalRange()
    iso = Qt.ISODate
    return {
        "temporal_active": layer.temporalProperties().isActive(),
        "provider_temporal": capabilities.hasTemporalCapabilities(),
        "available": [available.begin().toString(iso), available.end().toString(iso)],
        "ranges": [[r.begin().toString(iso), r.end().toString(iso)] for r in capabilities.allAvailableTemporalRanges()],
    }


def main(jobs_path: str, results_path: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    jobs = json.load(open(jobs_path))
    results = {job["id"]: render(job) for job in jobs}
    json.dump(results, open(results_path, "w"), indent=1)
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
