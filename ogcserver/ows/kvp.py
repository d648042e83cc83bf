"""Key-value-pair request parameters: case-insensitive names, one value each.

A parameter given twice is refused rather than merged (except the few that protocols define as
repeatable, such as the SUBSET of WCS 2.0), and the number of parameters and the length of each
value are capped, so odd query strings cannot reach deeper code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ogcserver.ows.exceptions import OwsError

MAX_PARAMETERS = 100
MAX_VALUE_LENGTH = 4096
REPEATABLE = frozenset({"SUBSET"})  # WCS 2.0: one SUBSET per axis
MAX_DIGITS = 9  # past any size, index or count a request may use; far from float overflow
INTEGER = re.compile(rf"^[+-]?[0-9]{{1,{MAX_DIGITS}}}$")


def whole_number(text: str) -> int | None:
    """An integer written in at most MAX_DIGITS ASCII digits, else None.

    ``int()`` alone also takes ``1_000``, other scripts' digits and 400-digit numbers, which
    later overflow a float; no request parameter needs any of them.
    """
    value = text.strip()
    return int(value) if INTEGER.match(value) else None


class Params:
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        self._repeated: dict[str, list[str]] = {}
        count = 0
        for key, value in pairs:
            count += 1
            if count > MAX_PARAMETERS:
                raise OwsError("InvalidParameterValue", f"more than {MAX_PARAMETERS} parameters")
            name = key.strip().upper()
            if not name:
                continue
            if "\x00" in value or "\x00" in name:
                raise OwsError("InvalidParameterValue", "parameters must not contain NUL characters", name)
            if len(value) > MAX_VALUE_LENGTH:
                raise OwsError("InvalidParameterValue", f"parameter {name} is too long", name)
            if name in REPEATABLE:
                self._repeated.setdefault(name, []).append(value)
                continue
            if name in self._values:
                raise OwsError("InvalidParameterValue", f"parameter {name} is given more than once", name)
            self._values[name] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name.upper(), default)

    def names(self) -> list[str]:
        """Every parameter name given (upper case), for families such as WCS's geotiff:*."""
        return [*self._values, *self._repeated]

    def values(self, name: str) -> list[str]:
        """Every value of a repeatable parameter, in the order given."""
        return list(self._repeated.get(name.upper(), []))

    def require(self, name: str) -> str:
        value = self._values.get(name.upper())
        if value is None or value.strip() == "":
            raise OwsError("MissingParameterValue", f"parameter {name.upper()} is required", name.upper())
        return value

    def as_dict(self) -> dict[str, str]:
        """Every parameter, names upper-cased (to write a request back into a URL)."""
        return dict(self._values)

    def __contains__(self, name: str) -> bool:
        return name.upper() in self._values or name.upper() in self._repeated

    def int(self, name: str, default: int | None = None, minimum: int | None = None) -> int:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            if default is None:
                raise OwsError("MissingParameterValue", f"parameter {name.upper()} is required", name.upper())
            return default
        value = whole_number(raw)
        if value is None:
            raise OwsError("InvalidParameterValue",
                           f"parameter {name.upper()} must be an integer of at most {MAX_DIGITS} digits", name.upper())
        if minimum is not None and value < minimum:
            raise OwsError(
                "InvalidParameterValue", f"parameter {name.upper()} must be at least {minimum}", name.upper()
            )
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        value = raw.strip().upper()
        if value in ("TRUE", "1", "YES"):
            return True
        if value in ("FALSE", "0", "NO"):
            return False
        raise OwsError("InvalidParameterValue", f"parameter {name.upper()} must be TRUE or FALSE", name.upper())
