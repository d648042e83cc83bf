"""WCS capabilities and coverage descriptions, per version, from templates fed view models."""

from __future__ import annotations

from datetime import date

from ogcserver.core.catalog import Layer
from ogcserver.ows.capabilities import render
from ogcserver.ows.endpoint import Endpoint
from ogcserver.ows.wcs.axes import crs_uri, crs_urn
from ogcserver.ows.wcs.common import INTERPOLATION_URI
from ogcserver.ows.wcs.views import CoverageView, offered, service_view
from ogcserver.settings import Settings

PROFILES = (
    "http://www.opengis.net/spec/WCS/2.0/conf/core",
    "http://www.opengis.net/spec/WCS_protocol-binding_get-kvp/1.0/conf/get-kvp",
    "http://www.opengis.net/spec/WCS_protocol-binding_post-xml/1.0/conf/post-xml",
    "http://www.opengis.net/spec/GMLCOV/1.0/conf/gml-coverage",
    "http://www.opengis.net/spec/WCS_coverage-encoding_geotiff/1.0/conf/geotiff-coverage",
    "http://www.opengis.net/spec/WCS_service-extension_crs/1.0/conf/crs",
    "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling",
    "http://www.opengis.net/spec/WCS_service-extension_interpolation/1.0/conf/interpolation",
    "http://www.opengis.net/spec/WCS_service-extension_interpolation/1.0/conf/interpolation-per-axis",
    "http://www.opengis.net/spec/WCS_service-extension_range-subsetting/1.0/conf/record-subsetting",
)
INTERPOLATIONS = tuple(INTERPOLATION_URI + m for m in ("nearest-neighbour", "linear", "cubic"))
TEMPLATES = {
    "1.0.0": ("wcs_1.0.0_capabilities.xml.j2", "wcs_1.0.0_describe.xml.j2"),
    "1.1.1": ("wcs_1.1.1_capabilities.xml.j2", "wcs_1.1.1_describe.xml.j2"),
    "2.0.1": ("wcs_2.0.1_capabilities.xml.j2", "wcs_2.0.1_describe.xml.j2"),
}


def _formats(coverages: list[CoverageView]) -> list[str]:
    return list(dict.fromkeys(f for cov in coverages for f in cov.formats)) or ["image/tiff"]


def capabilities_document(version: str, layers: list[Layer], settings: Settings, endpoint: Endpoint) -> bytes:
    coverages = offered(layers)
    return render(
        TEMPLATES[version][0],
        service=service_view(settings, endpoint),
        coverages=coverages,
        formats=_formats(coverages),
        profiles=PROFILES,
        interpolations=INTERPOLATIONS,
        crs_uris=list(dict.fromkeys(crs_uri(code) for cov in coverages for code in cov.crs_codes)),
        urn=crs_urn,
    )


# WCS 1.0.0 names formats with xs:Name tokens (no media types); requests may use either
NAMES_10 = {"image/tiff": "GeoTIFF", "image/png": "PNG", "image/jpeg": "JPEG", "application/netcdf": "NetCDF"}


def describe_document(version: str, layers: list[Layer]) -> bytes:
    return render(TEMPLATES[version][1], coverages=offered(layers), urn=crs_urn, names=NAMES_10,
                  positions=time_positions)


def time_positions(steps: tuple[str, ...]) -> tuple[str, ...]:
    """A time axis's steps as WCS 1.0.0's ``gml:timePosition`` can hold them. Its types are
    xsd's dates and times, which have no 30 February of a 360-day year; a date-only position
    stays valid (the type's ``anyURI`` member takes it) and is a form TIME accepts, so an axis of
    whole days holding a day the Gregorian calendar lacks is listed by its dates."""
    days = [s.removesuffix("T00:00:00Z") for s in steps]
    if any(len(d) == len(s) for d, s in zip(days, steps, strict=True)) or all(_gregorian(d) for d in days):
        return steps
    return tuple(days)


def _gregorian(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def coverages_document(title: str, identifier: str, content_id: str, media_type: str) -> bytes:
    """The XML part of a WCS 1.1 store=false response, pointing at the coverage part."""
    return render(
        "wcs_1.1.1_coverages.xml.j2", title=title, identifier=identifier, content_id=content_id, media_type=media_type
    )
