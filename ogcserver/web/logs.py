"""Structured logs: one JSON object a line, with secrets in query strings redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from urllib.parse import unquote_plus

# Parameter names whose values are credentials, compared after percent-decoding (Werkzeug decodes
# names before the authenticator sees them, so ``api%6Bey`` is ``apikey``), in lower case and
# without separators (``API_KEY``, ``api-key`` and ``api key`` are one name).
SECRET_NAMES = frozenset({"key", "auth", "pwd", "signature", "sig"})
SECRET_SUFFIXES = ("apikey", "authkey", "accesskey", "token", "password", "passwd", "secret")
SEPARATORS = re.compile(r"[\s_\-.\x00]+")
MAX_DECODES = 4  # a name encoded more often than this is redacted rather than decoded further
RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _decoded_name(raw: str) -> str | None:
    """The name as a server would read it, decoded until stable; None if it never settles."""
    name = raw
    for _ in range(MAX_DECODES):
        decoded = unquote_plus(name, errors="replace")
        if decoded == name:
            return SEPARATORS.sub("", name).lower()
        name = decoded
    return None


def is_secret(raw_name: str) -> bool:
    name = _decoded_name(raw_name)
    return name is None or name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def redact(query: str) -> str:
    """The query string with the value of every credential parameter replaced by REDACTED."""
    pairs = []
    for pair in query.split("&"):
        name, sep, _value = pair.partition("=")
        pairs.append(f"{name}=REDACTED" if sep and is_secret(name) else pair)
    return "&".join(pairs)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("rasterio").setLevel(logging.WARNING)


access_log = logging.getLogger("ogcserver.access")


def log_access(method: str, path: str, query: str, status: int, size: int | None, seconds: float,
               remote: str | None, principal: str | None) -> None:
    """One access log line, alike for the Flask app and the short path (credentials redacted)."""
    access_log.info("request", extra={
        "method": method, "path": path, "query": redact(query)[:512] if query else "", "status": status,
        "bytes": size, "ms": round(seconds * 1000, 2), "remote": remote, "principal": principal,
    })
