"""Structured logs: one JSON object a line, with secrets in query strings redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

SECRET_PARAMS = re.compile(r"(?i)(^|&)(api_?key|apikey|key|token|access_token|authkey|password)=[^&]*")
RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(query: str) -> str:
    return SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}=REDACTED", query)


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
