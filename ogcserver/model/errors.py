"""Domain errors. Protocol adapters map them to their own exception codes in one table."""

from __future__ import annotations

from typing import Literal


class OgcServerError(Exception):
    """Base of every error the server reports to a client; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LayerNotFound(OgcServerError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Layer '{name}' is not defined")
        self.name = name


class ItemNotFound(OgcServerError):
    def __init__(self, key: str) -> None:
        super().__init__(f"item '{key[:80]}' is not in this layer")
        self.key = key


class StyleNotFound(OgcServerError):
    """A style (or processing template) the layer does not offer."""

    def __init__(self, style: str, layer: str) -> None:
        super().__init__(f"Style '{style}' is not defined for layer '{layer}'")
        self.style = style
        self.layer = layer


class UnsupportedCrs(OgcServerError):
    def __init__(self, crs: str) -> None:
        super().__init__(f"CRS '{crs}' is not supported")


class UnsupportedFormat(OgcServerError):
    def __init__(self, fmt: str) -> None:
        super().__init__(f"Format '{fmt}' is not supported")


class InvalidValue(OgcServerError):
    """A value the server cannot use. ``parameter`` is the caller's own name for it when a caller
    parsed it (a time, a mosaic rule); the core's subclasses below leave it ``None`` and say instead
    what was wrong, so each protocol adapter names the parameter in its own words."""

    def __init__(self, parameter: str | None, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class InvalidDimensionValue(InvalidValue):
    """A dimension value (time, elevation, another axis) that names no step of the layer, is
    malformed, or names more steps than a request may take; ``dimension`` is its name."""

    def __init__(self, dimension: str, message: str) -> None:
        super().__init__(None, message)
        self.dimension = dimension


class InvalidPoint(OgcServerError):
    """A query point lies outside the map."""


class LimitExceeded(OgcServerError):
    """A request asks for more than the configured limits allow."""


class RenderTimeout(OgcServerError):
    """Rendering took longer than the configured time budget."""


class SourceUnavailable(OgcServerError):
    """A source raster could not be read (missing or corrupt file)."""


class SourceRefused(SourceUnavailable):
    """A file the server will not publish, and why (the catalog records it, the log says it once)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"source '{name}' is not accepted")  # the reason may name paths: for logs only
        self.name = name
        self.reason = reason


class AreaOutsideCoverage(OgcServerError):
    """A coverage request's area holds no part of the coverage."""


class CatalogUnavailable(OgcServerError):
    """The catalog database cannot be reached now; the request may succeed later."""

    def __init__(self) -> None:
        super().__init__("the catalog is unavailable; try again later")


# -- limits ------------------------------------------------------------------------------------
Axis = Literal["width", "height", "area"]


class SizeLimitExceeded(LimitExceeded):
    """An output wider, taller or larger in pixels than the service's maximum."""

    def __init__(self, axis: Axis, size: int, limit: int) -> None:
        what = {"width": "a width of", "height": "a height of", "area": "an area of"}[axis]
        unit = " pixels" if axis == "area" else ""
        super().__init__(f"{what} {size}{unit} is more than the maximum {limit}{unit}")
        self.axis = axis
        self.size = size
        self.limit = limit


class TooManyLayers(LimitExceeded):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} layers per request")
        self.limit = limit


class TooManyItems(LimitExceeded):
    """The area asked for covers more mosaic items than one request may read: zoom in."""

    def __init__(self, layer: str, limit: int) -> None:
        super().__init__(f"the request covers more than {limit} rasters of layer '{layer}'; zoom in")
        self.layer = layer
        self.limit = limit


class ResourceLimitExceeded(LimitExceeded):
    """Answering would need more memory, reading or output bytes than a request is given."""


# -- values the core refuses -------------------------------------------------------------------
class BadFilter(InvalidValue):
    """An item filter (CQL2 text) outside the supported subset, or malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)


class ChainError(InvalidValue):
    """A processing chain's step cannot run on this input (a band it lacks, a bad colour, ...)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(None, reason)
        self.step = step


class ProcessingNotAllowed(InvalidValue):
    """A request brings its own processing chain to a service that takes none."""

    def __init__(self, service: str) -> None:
        super().__init__(None, f"service '{service}' takes no processing chains in requests")
        self.service = service


class DownloadNotOffered(InvalidValue):
    def __init__(self, service: str) -> None:
        super().__init__(None, f"service '{service}' does not offer original files")
        self.service = service


TileAxis = Literal["zoom", "column", "row", "tile"]  # tile: the tile as a whole lies outside the layer


class TileOutOfRange(InvalidValue):
    """A tile outside its matrix set (a zoom it lacks, a column or row past the matrix)."""

    def __init__(self, axis: TileAxis, message: str) -> None:
        super().__init__(None, message)
        self.axis = axis


class TileMatrixSetNotOffered(InvalidValue):
    def __init__(self, tms: str, layer: str) -> None:
        super().__init__(None, f"tile matrix set '{tms[:64]}' is not offered for layer '{layer}'")
        self.tms = tms


class NoSuchBand(InvalidValue):
    """A band number the coverage does not have."""

    def __init__(self, layer: str, count: int) -> None:
        super().__init__(None, f"coverage '{layer}' has bands 1 to {count}")
        self.count = count


class EncodingRefused(InvalidValue):
    """An output encoding that cannot hold this data; the subclasses say which part of it."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)


class FormatRefused(EncodingRefused):
    """The output format cannot hold this data (its band count or data type)."""


class CompressionRefused(EncodingRefused):
    """The compression asked for cannot hold this data."""


class PredictorRefused(EncodingRefused):
    """The predictor asked for does not fit the data type or the compression."""


class InvalidExtent(InvalidValue):
    """An area with no extent, or an infinite one, along one of its axes."""

    def __init__(self, axis: Literal["x", "y"], reason: str) -> None:
        super().__init__(None, f"the extent asked for along {axis} is {reason}")
        self.axis = axis


class ColourScaleRefused(InvalidValue):
    """A colour scale that cannot be drawn: a logarithmic one over a range that is not positive."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)
