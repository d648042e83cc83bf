"""Unique labels from names that may repeat (band descriptions, field identifiers)."""

from __future__ import annotations

from collections.abc import Iterable


def unique_names(names: Iterable[str]) -> tuple[str, ...]:
    """Each name, or ``name_N`` (N its 1-based position) when an earlier label took it already.

    Linear in the number of names: a file may declare tens of thousands of bands.
    """
    labels: list[str] = []
    taken: set[str] = set()
    for i, name in enumerate(names, start=1):
        label = name if name not in taken else f"{name}_{i}"
        labels.append(label)
        taken.add(label)
    return tuple(labels)
