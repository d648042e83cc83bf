"""The catalog API's words for domain errors, answered as JSON as OGC API and STAC clients expect
(``code``, ``description`` and, where one parameter is at fault, its ``locator``); a missing (or
hidden) layer or item is a missing resource."""

from __future__ import annotations

import json

from ogcserver.model import errors
from ogcserver.ows.error_table import COMMON, ExceptionFormat, Rule
from ogcserver.ows.exceptions import OwsError

CATALOG = COMMON.extended({
    errors.LayerNotFound: Rule("LayerNotDefined", "collection", 404),
    errors.ItemNotFound: Rule("NotFound", "item", 404),
    errors.BadFilter: Rule("InvalidParameterValue", "filter"),
    errors.TooManyItems: Rule("InvalidParameterValue", "bbox"),
    errors.DownloadNotOffered: Rule("InvalidParameterValue", "download"),
})


def json_report(error: OwsError) -> tuple[bytes, str]:
    document = {"code": error.code, "description": error.message}
    if error.locator:
        document["locator"] = error.locator
    return json.dumps(document, separators=(",", ":")).encode(), "application/json"


CATALOG_FORMAT = ExceptionFormat(CATALOG, json_report)
