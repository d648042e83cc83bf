"""Domain errors. Protocol adapters map them to their own exception codes in one table."""

from __future__ import annotations


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
    def __init__(self, style: str, layer: str) -> None:
        super().__init__(f"Style '{style}' is not defined for layer '{layer}'")


class UnsupportedCrs(OgcServerError):
    def __init__(self, crs: str) -> None:
        super().__init__(f"CRS '{crs}' is not supported")


class UnsupportedFormat(OgcServerError):
    def __init__(self, fmt: str) -> None:
        super().__init__(f"Format '{fmt}' is not supported")


class InvalidValue(OgcServerError):
    """A parameter has a value the server cannot use."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class InvalidPoint(OgcServerError):
    """A query point lies outside the map."""


class LimitExceeded(OgcServerError):
    """A request asks for more than the configured limits allow."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


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
