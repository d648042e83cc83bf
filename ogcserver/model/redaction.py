"""Secrets in configuration models: marked on the field's type, redacted wherever a model is shown.

A field is declared ``Annotated[str, Secret()]`` (the whole value is secret: a password hash, a
key digest) or ``Annotated[str, Secret("dsn")]`` / ``Secret("url")`` (only the password inside
a connection string or a URL is). ``redacted(model)`` walks the model's declared fields, so a
secret field added later is redacted by being declared so, not by someone remembering a list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

REDACTED = "<redacted>"
# libpq key=value strings: password=secret or password='se cret'
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _url_without_password(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        return REDACTED
    if parts.password is None:
        return value
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{REDACTED}@{host}"))


@dataclass(frozen=True)
class Secret:
    """Marks a configuration field as secret; ``part`` says which part of its value is."""

    part: Literal["whole", "dsn", "url"] = "whole"

    def redact(self, value: str) -> str:
        if self.part == "whole":
            return REDACTED
        if self.part == "url" or "://" in value:  # a DSN may also be a postgresql:// URI
            return _DSN_PASSWORD.sub(rf"\1{REDACTED}", _url_without_password(value))
        return _DSN_PASSWORD.sub(rf"\1{REDACTED}", value)


def secret_marker(model: type[BaseModel], field: str) -> Secret | None:
    """The field's Secret marker, if it is declared secret."""
    return next((m for m in model.model_fields[field].metadata if isinstance(m, Secret)), None)


def redacted(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-ready values, each secret field's value redacted."""
    return {name: _plain(getattr(model, name), secret_marker(type(model), name)) for name in type(model).model_fields}


def _plain(value: Any, marker: Secret | None) -> Any:
    if isinstance(value, BaseModel):
        return redacted(value)
    if isinstance(value, list | tuple):
        return [_plain(v, marker) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, marker) for k, v in value.items()}
    if marker is not None and value is not None:
        return marker.redact(str(value))
    return to_jsonable_python(value)
