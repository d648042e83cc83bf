"""A value made current for the steps run inside a block (a request's budget, its timings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def scoped(variable: ContextVar[T | None], value: T) -> Iterator[T]:
    """``variable`` holds ``value`` inside the block and what it held before after it."""
    token = variable.set(value)
    try:
        yield value
    finally:
        variable.reset(token)
