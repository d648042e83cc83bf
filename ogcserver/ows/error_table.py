"""From typed domain errors to one protocol's exception code, locator and HTTP status.

The core raises errors that say what went wrong in its own terms (an output too wide, too many
mosaic items, a tile past its matrix); each protocol has one table saying how it words them. A
table is looked up by the error's class and then its bases, so a protocol words the errors it
knows its own way and inherits the rest from the shared table below. Tables are immutable:
``extended`` returns a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ogcserver.model import errors
from ogcserver.model.access import AccessDenied
from ogcserver.ows.exceptions import OwsError
from ogcserver.ows.response import OwsResponse

log = logging.getLogger(__name__)

Locator = str | Callable[[Any], str | None] | None


@dataclass(frozen=True)
class Rule:
    """How a protocol answers one kind of error. ``locator`` and ``status`` may depend on the error
    (its axis, whether the caller authenticated); ``status`` None is OWS Common's for the code;
    ``message`` rewords the error where the protocol has its own noun for it (a coverage)."""

    code: str | Callable[[Any], str]
    locator: Locator = None
    status: int | Callable[[Any], int] | None = None
    message: Callable[[Any], str] | None = None


class ErrorTable:
    """One protocol's rules, by error class; the most specific class of an error decides."""

    def __init__(self, rules: Mapping[type[errors.OgcServerError], Rule]) -> None:
        self.rules = MappingProxyType(dict(rules))

    def extended(self, rules: Mapping[type[errors.OgcServerError], Rule]) -> ErrorTable:
        """A new table: these rules over this table's."""
        return ErrorTable({**self.rules, **rules})

    def rule(self, exc: errors.OgcServerError) -> Rule:
        return self.rule_for(type(exc))

    def rule_for(self, kind: type[errors.OgcServerError]) -> Rule:
        return next(self.rules[cls] for cls in kind.__mro__ if cls in self.rules)

    def to_ows(self, exc: errors.OgcServerError) -> OwsError:
        rule = self.rule(exc)
        locator = rule.locator(exc) if callable(rule.locator) else rule.locator
        status = rule.status(exc) if callable(rule.status) else rule.status
        message = rule.message(exc) if rule.message else exc.message
        code = rule.code(exc) if callable(rule.code) else rule.code
        return OwsError(code, message, locator, status)


def by_axis(names: Mapping[str, str | None]) -> Callable[[Any], str | None]:
    """A locator naming the parameter of the error's axis (width, zoom, x, ...)."""
    return lambda exc: names.get(exc.axis)


def dimension_parameter(exc: errors.InvalidDimensionValue) -> str:
    """The KVP parameter of a dimension: TIME, ELEVATION, else DIM_<NAME> (WMS's sample dimensions)."""
    return exc.dimension.upper() if exc.dimension in ("time", "elevation") else f"DIM_{exc.dimension.upper()}"


SERVER_SIDE = Rule("NoApplicableCode", status=503)  # may succeed later: the client did nothing wrong

# What every protocol answers unless its own table says otherwise.
COMMON = ErrorTable({
    errors.OgcServerError: Rule("NoApplicableCode", status=500),
    AccessDenied: Rule("AccessDenied", status=lambda exc: 403 if exc.authenticated else 401),
    errors.ItemNotFound: Rule("NotFound", status=404),
    errors.InvalidPoint: Rule("InvalidPoint"),
    errors.InvalidValue: Rule("InvalidParameterValue", lambda exc: exc.parameter),  # named by its parser
    errors.LimitExceeded: Rule("InvalidParameterValue"),
    errors.BadFilter: Rule("InvalidParameterValue", "FILTER"),
    errors.InvalidDimensionValue: Rule("InvalidParameterValue", dimension_parameter),
    errors.RenderTimeout: SERVER_SIDE,
    errors.SourceUnavailable: SERVER_SIDE,  # names the file, never its path
    errors.CatalogUnavailable: SERVER_SIDE,
})


@dataclass(frozen=True)
class ExceptionFormat:
    """How one protocol version answers errors: its table, and its exception report."""

    table: ErrorTable
    report: Callable[[OwsError], tuple[bytes, str]]

    def error(self, exc: OwsError | errors.OgcServerError) -> OwsError:
        """An error worded for this protocol (one worded already by its parser stays as it is)."""
        return exc if isinstance(exc, OwsError) else self.table.to_ows(exc)

    def response(self, exc: OwsError | errors.OgcServerError) -> OwsResponse:
        error = self.error(exc)
        if error.status >= 500:
            log.warning("request failed", extra={"code": error.code, "detail": error.message})
        body, content_type = self.report(error)
        return OwsResponse(body, content_type, error.status, error_code=error.code)
