"""A scene delivered as one single-band file per band (Landsat, Sentinel-2): which file names form
one multiband item, the band order, and how such an item is named as one source path.

Providers name band files alike but for a band token (``..._SR_B4.TIF``, ``..._B04_10m.jp2``).
Files whose names differ only in that token are candidates for one item; whether their grids
agree is the reader's to check. An item's path lists its files, so the catalog keys, stamps and
reads it like any other source: ``bands:/folder/scene_SR_{B2,B3,B4,B5}.TIF``.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STACK_PREFIX = "bands:"
# B1..B12 with an optional leading zero, and Sentinel-2's B8A, between separators or the name's ends
DEFAULT_TOKEN = r"B(?:0?[1-9]|1[0-2]|8A)"
SEPARATORS = "_.-"
TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9]+$")
# Landsat 8/9, 4/5/7 (product ids LC08_, LE07_, LT05_ ...) and Sentinel-2 (T32TQM_..., S2A_...)
LANDSAT_OLI = re.compile(r"^L[CO]0?[89]", re.IGNORECASE)
LANDSAT_TM = re.compile(r"^L[TEM]0?[457]", re.IGNORECASE)
SENTINEL2 = re.compile(r"^(S2[ABCD]_|T\d{2}[A-Z]{3}_)", re.IGNORECASE)
NATURAL_COLOUR = {"oli": ("4", "3", "2"), "tm": ("3", "2", "1"), "msi": ("4", "3", "2")}


@dataclass(frozen=True)
class BandStack:
    """Single-band files of one folder named alike but for a band token, in band order."""

    folder: str
    head: str  # the name before the token
    tail: str  # the name after it, extension included
    tokens: tuple[str, ...]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(os.path.join(self.folder, f"{self.head}{t}{self.tail}") for t in self.tokens)

    @property
    def path(self) -> str:
        return f"{STACK_PREFIX}{os.path.join(self.folder, self.head)}{{{','.join(self.tokens)}}}{self.tail}"

    @property
    def name(self) -> str:
        """The scene's name: the file name without the token, its separator and the extension
        (``LC08_..._SR_B4.TIF`` -> ``LC08_..._SR``)."""
        stem = (self.head.rstrip(SEPARATORS) + self.tail.split(".", 1)[0]).strip(SEPARATORS)
        return stem or "bands"


def token_pattern(tokens: Sequence[str] | None = None) -> re.Pattern[str]:
    """The band token of a file name: the default one, or one of the publisher's tokens; the last
    one in the name (``T32TQM_..._B02_10m``: B02)."""
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)) if tokens else DEFAULT_TOKEN
    return re.compile(rf"^(?P<head>.*(?:^|[{SEPARATORS}]))(?P<token>{alternatives})(?P<tail>(?:[{SEPARATORS}].*)?)$",
                      re.IGNORECASE if not tokens else 0)


def band_sort_key(token: str) -> tuple[int, str]:
    """Band order: by number, B8A after B8 (Sentinel-2), otherwise by name."""
    digits = re.search(r"(\d+)([A-Za-z]*)$", token)
    return (int(digits.group(1)), digits.group(2).upper()) if digits else (1 << 30, token)


def band_stacks(paths: Iterable[str], tokens: Sequence[str] | None = None) -> tuple[list[BandStack], list[str]]:
    """The candidate stacks among files (two or more files of one folder named alike but for the
    token; ``tokens``: exactly those bands, in that order) and the files left as they are."""
    pattern = token_pattern(tokens)
    groups: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    alone: list[str] = []
    for path in paths:
        folder, name = os.path.split(path)
        if (found := pattern.match(name)) is None or "{" in path or "}" in path:  # braces: not nameable as a stack
            alone.append(path)
            continue
        key = (folder, found["head"], found["tail"])
        if found["token"] in groups[key]:
            alone.append(path)
            continue
        groups[key][found["token"]] = path
    stacks: list[BandStack] = []
    for (folder, head, tail), members in groups.items():
        if tokens:
            order = [t for t in tokens if t in members]
            complete = len(order) == len(tokens)
        else:
            order = sorted(members, key=band_sort_key)
            complete = len(order) >= 2
        if complete and "." in tail:
            stacks.append(BandStack(folder, head, tail, tuple(order)))
        else:
            alone += members.values()
    return stacks, sorted(alone)


def parse_stack_path(path: str) -> BandStack | None:
    """The stack a ``bands:`` path names, None for any other path (or a malformed one)."""
    if not path.startswith(STACK_PREFIX):
        return None
    found = re.fullmatch(r"(?P<head>[^{}]*)\{(?P<tokens>[^{}/]+)\}(?P<tail>[^{}/]*)", path[len(STACK_PREFIX):])
    if found is None:
        return None
    tokens = tuple(found["tokens"].split(","))
    if len(tokens) < 1 or len(set(tokens)) != len(tokens) or not all(TOKEN_CHARACTERS.match(t) for t in tokens):
        return None
    folder, head = os.path.split(found["head"])
    return BandStack(folder, head, found["tail"], tokens)


def natural_colour(stack: BandStack) -> tuple[int, int, int] | None:
    """The 1-based bands to draw as red, green and blue where the sensor is known from the scene's
    name and has them: Landsat 8/9 B4/B3/B2, Landsat 4/5/7 B3/B2/B1, Sentinel-2 B04/B03/B02."""
    sensor = "oli" if LANDSAT_OLI.match(stack.head) else "tm" if LANDSAT_TM.match(stack.head) \
        else "msi" if SENTINEL2.match(stack.head) else None
    if sensor is None:
        return None
    numbers = {re.sub(r"^B0?", "", t.upper()): i for i, t in enumerate(stack.tokens, start=1)}
    wanted = NATURAL_COLOUR[sensor]
    if not all(n in numbers for n in wanted):
        return None
    red, green, blue = (numbers[n] for n in wanted)
    return red, green, blue


# a layer's ``band_files``: "auto" (the default band tokens), "off", or the publisher's tokens in band order
BandFiles = str | tuple[str, ...]


def valid_band_tokens(tokens: tuple[str, ...]) -> bool:
    """Whether a publisher's list of band tokens can name band files: at least one, distinct,
    at most 256, each of letters and digits, at most 32 long."""
    return bool(tokens) and len(set(tokens)) == len(tokens) and len(tokens) <= 256 and \
        all(TOKEN_CHARACTERS.match(t) and len(t) <= 32 for t in tokens)


def band_files_argument(text: str) -> BandFiles:
    """``auto``, ``off`` or comma-separated band tokens in band order (the command line's
    counterpart of a layer's ``band_files``); ValueError for anything else."""
    if text in ("auto", "off"):
        return text
    tokens = tuple(t.strip() for t in text.split(","))
    if not valid_band_tokens(tokens):
        raise ValueError("band files: auto, off or distinct band tokens of letters and digits, comma-separated")
    return tokens


def stack_key(stack: BandStack, root: str) -> str:
    """A stack's catalog key, as a folder item's: its folder under the layer's and its name."""
    folder = os.path.relpath(stack.folder, root) if root and stack.folder.startswith(root) else ""
    return stack.name if folder in ("", ".") else f"{folder}/{stack.name}".replace(os.sep, "/")
