"""Load layers with QGIS's own providers and render them, as QGIS Desktop does.

Run by the system Python that QGIS's bindings belong to (Debian ``python3-qgis``), not by the test
environment: ``QT_QPA_PLATFORM=offscreen python3 qgis_render.py jobs.json results.json``. Each job
names a provider (``wms`` for WMS and WMTS, ``wcs``), a data source URI, the map's CRS, extent and
size in pixels, and a PNG to write. Each result says whether the layer loaded, its CRS and extent
as QGIS sees them, the extent QGIS actually rendered (QGIS widens the asked extent to square
pixels), and the errors the render reported.
"""

from __future__ import annotations

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
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
    renderer = QgsMapRendererSequentialJob(settings)
    renderer.start()
    renderer.waitForFinished()
    renderer.renderedImage().save(job["out"], "PNG")
    return {
        "valid": True,
        "crs": layer.crs().authid(),
        "extent": corners(layer.extent()),
        "rendered": corners(settings.visibleExtent()),
        "errors": [f"{e.layerID}: {e.message}" for e in renderer.errors()],
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
