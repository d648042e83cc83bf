"""Turn a folder listing's single-band files of one scene into one row per scene (band_files.py).

Which names form a stack is decided from the names alone; whether the files can be bands of one
raster (one grid, one data type, one band each) from their headers, remembered per stamp so an
unchanged folder is not reopened at every index check.
"""

from __future__ import annotations

from ogcserver.model.band_files import BandFiles, BandStack, band_stacks
from ogcserver.storage.readers.band_stack import same_grid
from ogcserver.storage.readers.vetting import DEFAULT_RULES, SourceRules

Row = tuple[str, float, int]  # path, mtime, size
MAX_REMEMBERED = 100_000
_checked: dict[tuple[Row, ...], bool] = {}


def _fits(stack: BandStack, rows: tuple[Row, ...], rules: SourceRules) -> bool:
    fits = _checked.get(rows)
    if fits is None:
        if len(_checked) > MAX_REMEMBERED:
            _checked.clear()
        fits = _checked[rows] = same_grid(stack, rules)
    return fits


def with_band_stacks(rows: list[Row], band_files: BandFiles, rules: SourceRules = DEFAULT_RULES) -> list[Row]:
    """The rows with each scene's band files as one row (``bands:`` path, latest mtime, total size);
    files that do not form a stack of one grid stay rows of their own."""
    if band_files == "off":
        return rows
    by_path = {row[0]: row for row in rows}
    tokens = None if band_files == "auto" else tuple(band_files)
    stacks, alone = band_stacks(by_path, tokens)
    out = [by_path[path] for path in alone]
    for stack in stacks:
        members = tuple(by_path[path] for path in stack.files)
        if _fits(stack, members, rules):
            out.append((stack.path, max(m[1] for m in members), sum(m[2] for m in members)))
        else:
            out += members
    return sorted(out)
