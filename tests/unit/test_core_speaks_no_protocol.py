"""The core and the domain values name no OGC parameter and no OGC exception code: the protocol
adapters own those words, so one error answers correctly in every protocol."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import ogcserver

PACKAGE = Path(ogcserver.__file__).parent
PARAMETERS = {
    "WIDTH", "HEIGHT", "LAYERS", "LAYER", "STYLES", "STYLE", "RENDERINGRULE", "FILTER", "BBOX", "BOUNDINGBOX",
    "SUBSET", "CRS", "SRS", "FORMAT", "TIME", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL", "COVERAGE",
    "COVERAGEID", "EXPRESSION", "PROCESSING", "RANGESUBSET", "INFO_FORMAT", "QUERY_LAYERS",
}
CODES = re.compile(
    r"\b(InvalidParameterValue|MissingParameterValue|LayerNotDefined|StyleNotDefined|InvalidFormat|InvalidSRS|"
    r"InvalidCRS|InvalidPoint|InvalidDimensionValue|OperationNotSupported|OptionNotSupported|NoApplicableCode|"
    r"TileOutOfRange|PointIJOutOfRange|NoSuchCoverage|CoverageNotDefined|NoSuchField|InvalidSubsetting|"
    r"PredictorInvalid|CompressionInvalid|locator)\b"
)
# a message opening with a request parameter ("WIDTH 5000 is more than ...")
OPENS_WITH_PARAMETER = re.compile(r"^(WIDTH|HEIGHT|LAYERS|STYLES|RENDERINGRULE|TILECOL|TILEROW|TILEMATRIX)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)}


def protocol_words(source: str) -> list[tuple[int, str]]:
    """String constants (docstrings and comments aside, which may explain a protocol) that are a
    request parameter's name, open with one, or name an exception code or a locator."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
            if text.strip() in PARAMETERS or CODES.search(text) or OPENS_WITH_PARAMETER.match(text):
                found.append((node.lineno, text))
    return found


def _modules() -> list[Path]:
    return sorted(p for folder in ("core", "model") for p in (PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_protocol_names_in_core_or_model(path: Path) -> None:
    found = protocol_words(path.read_text())
    assert not found, f"{path.name} names protocol parameters or codes: {found}"


@pytest.mark.parametrize("source", [
    'raise LimitExceeded("WIDTH", "too wide")',
    'raise LimitExceeded("x", f"WIDTH {width} is more than {limit}")',
    'raise OwsError("InvalidParameterValue", "no")',
    'PARAMETER = "FILTER"',
    'def f(parameter: str = "TIME"): pass',
])
def test_the_check_sees_protocol_words(source: str) -> None:
    assert protocol_words(source)


def test_the_check_leaves_docstrings_comments_and_plain_words() -> None:
    source = '"""WMS LAYERS and the InvalidParameterValue code."""\nx = "the CRS is unknown"  # WIDTH\n' \
             'y = "BBOX takes four numbers"\n'
    assert protocol_words(source) == []
