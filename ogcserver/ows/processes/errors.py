"""The Processes API's words for domain errors: JSON exception documents of OGC API - Processes
(``type``, ``title``, ``status``, ``detail``), with the standard's exception type URIs where it
defines one (no such process, no such job, result not ready)."""

from __future__ import annotations

import json

from ogcserver.model import errors
from ogcserver.model.errors import OgcServerError
from ogcserver.model.jobs import (
    ClaimLost,
    ClusterUnavailable,
    JobFailed,
    JobNotFound,
    ProcessNotFound,
    ProductBusy,
    ResultNotReady,
    TooManyJobs,
)
from ogcserver.ows.error_table import COMMON, SERVER_SIDE, ExceptionFormat, Rule
from ogcserver.ows.exceptions import OwsError

OGC_TYPES = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
STANDARD = ("no-such-process", "no-such-job", "result-not-ready")

_CAUSES = COMMON.extended({
    ProcessNotFound: Rule("no-such-process", status=404),
    JobNotFound: Rule("no-such-job", status=404),
    ResultNotReady: Rule("result-not-ready", status=404),
    errors.LayerNotFound: Rule("InvalidParameterValue", "layer", 400),
    errors.ProcessingNotAllowed: Rule("InvalidParameterValue", "chain", 400),
    errors.TooManyItems: Rule("InvalidParameterValue", "bbox", 400),
    ClusterUnavailable: SERVER_SIDE,
    TooManyJobs: Rule("ServerBusy", status=503),
    ProductBusy: Rule("ProductBusy", "output", 409),
    ClaimLost: Rule("ProductBusy", "output", 409),
})


def _cause(exc: JobFailed) -> Rule:
    return _CAUSES.rule_for(exc.cause or OgcServerError)


def _cause_status(exc: JobFailed) -> int | None:
    """The status the cause would have had (one that depends on the caller's request: 500)."""
    status = _cause(exc).status
    return 500 if callable(status) else status


# a failed job's results answer with the exception that failed it (/req/core/job-results-failed)
PROCESSES = _CAUSES.extended({JobFailed: Rule(lambda exc: _cause(exc).code, status=_cause_status)})


def json_report(error: OwsError) -> tuple[bytes, str]:
    document = {"type": OGC_TYPES + error.code if error.code in STANDARD else error.code,
                "title": error.code, "status": error.status, "detail": error.message}
    if error.locator:
        document["instance"] = error.locator
    return json.dumps(document, separators=(",", ":")).encode(), "application/json"


PROCESSES_FORMAT = ExceptionFormat(PROCESSES, json_report)
