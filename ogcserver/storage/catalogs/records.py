"""How catalog records are written to and read from a store's rows (shared by every backend)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ogcserver.model.catalog import SourceInfo
from ogcserver.model.dimensions import Dimension
from ogcserver.model.geo import BBox


def info_to_json(info: SourceInfo) -> str:
    return json.dumps(
        {
            "path": info.path,
            "crs": info.crs,
            "bounds": info.bounds.as_tuple(),
            "width": info.width,
            "height": info.height,
            "count": info.count,
            "dtype": info.dtype,
            "nodata": info.nodata,
            "band_names": info.band_names,
            "acquired": info.acquired.isoformat() if info.acquired else None,
            "overview_factors": info.overview_factors,
            "attributes": info.attributes,
            "alpha_band": info.alpha_band,
            "palette": info.palette,
            "variable": info.variable,
            "units": info.units,
            "scales": info.scales,
            "offsets": info.offsets,
            "placed_by_model": info.placed_by_model,
            "dimensions": [vars(d) for d in info.dimensions],
        }
    )


def info_from_json(text: str | dict[str, Any]) -> SourceInfo:
    d = json.loads(text) if isinstance(text, str) else text
    return SourceInfo(
        path=d["path"],
        crs=d["crs"],
        bounds=BBox.from_bounds(d["bounds"], d["crs"]),
        width=d["width"],
        height=d["height"],
        count=d["count"],
        dtype=d["dtype"],
        nodata=d["nodata"],
        band_names=tuple(d["band_names"]),
        acquired=datetime.fromisoformat(d["acquired"]) if d["acquired"] else None,
        overview_factors=tuple(d["overview_factors"]),
        attributes=d["attributes"],
        alpha_band=d.get("alpha_band"),
        palette=tuple(tuple(c) for c in d["palette"]) if d.get("palette") else None,
        variable=d.get("variable", ""),
        units=d.get("units", ""),
        scales=tuple(d.get("scales", ())),
        offsets=tuple(d.get("offsets", ())),
        placed_by_model=d.get("placed_by_model", False),
        dimensions=tuple(Dimension(**{**x, "values": tuple(x["values"])}) for x in d.get("dimensions", ())),
    )
