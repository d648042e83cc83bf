"""Band arithmetic parsed into an allowlisted syntax tree and evaluated with numpy. Never eval.

Allowed: numbers, band references b1..b64, + - * / ** (exponent at most 8), comparisons, and the
functions where/min/max/abs/sqrt/log/clip. Size and depth are bounded, and every number must be
a finite float32 (values are computed in float32), so a hostile expression is refused quickly
with a message saying why.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ogcserver.model.errors import ChainError

MAX_LENGTH = 512
MAX_NODES = 200
MAX_DEPTH = 24
MAX_EXPONENT = 8
LARGEST = float(np.finfo(np.float32).max)
BAND = re.compile(r"^b([1-9]\d?)$", re.A)
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "where": (3, np.where), "min": (2, np.minimum), "max": (2, np.maximum), "abs": (1, np.abs),
    "sqrt": (1, np.sqrt), "log": (1, np.log), "clip": (3, np.clip),
}
BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
COMPARE = {ast.Gt: np.greater, ast.GtE: np.greater_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
           ast.Eq: np.equal, ast.NotEq: np.not_equal}


def _fail(message: str) -> ChainError:
    return ChainError("expression", f"expression refused: {message}")


class Expression:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise _fail(f"longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: NUL characters
            raise _fail("not a valid expression") from None
        self.bands: set[int] = set()
        self._nodes = 0
        self._check(tree.body, 0)
        self.tree = tree.body
        self.text = text

    def _check(self, node: ast.AST, depth: int) -> None:
        self._nodes += 1
        if self._nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _fail("too large or too deeply nested")
        if isinstance(node, ast.Constant):
            value = node.value
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _fail("only numbers are allowed as constants")
            if not abs(value) <= LARGEST:  # also false for nan
                raise _fail(f"numbers must be finite numbers of at most {LARGEST:.6g}")
        elif isinstance(node, ast.Name):
            m = BAND.match(node.id)
            if not m:
                raise _fail(f"unknown name '{node.id[:20]}' (bands are b1, b2, ...)")
            self.bands.add(int(m.group(1)))
        elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            self._check(node.left, depth + 1)
            self._check(node.right, depth + 1)
            if isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant) and abs(cast(float, node.right.value)) <= MAX_EXPONENT
            ):
                raise _fail(f"exponents must be numbers of at most {MAX_EXPONENT}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self._check(node.operand, depth + 1)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
            self._check(node.left, depth + 1)
            self._check(node.comparators[0], depth + 1)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            arity = FUNCTIONS[node.func.id][0]
            if len(node.args) != arity or node.keywords:
                raise _fail(f"{node.func.id} takes {arity} arguments")
            for arg in node.args:
                self._check(arg, depth + 1)
        else:
            raise _fail(f"'{type(node).__name__}' is not allowed")

    def evaluate(self, bands: dict[int, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self._eval(self.tree, bands), dtype=np.float32)

    def _eval(self, node: ast.AST, bands: dict[int, np.ndarray]) -> np.ndarray | np.float32:
        if isinstance(node, ast.Constant):
            return np.float32(cast(float, node.value))  # _check let only numbers through
        if isinstance(node, ast.Name):
            return bands[int(node.id[1:])]
        if isinstance(node, ast.BinOp):
            return BINARY[type(node.op)](self._eval(node.left, bands), self._eval(node.right, bands))
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, bands)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Compare):
            return COMPARE[type(node.ops[0])](self._eval(node.left, bands), self._eval(node.comparators[0], bands))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            func = FUNCTIONS[node.func.id][1]
            return func(*(self._eval(a, bands) for a in node.args))
        raise _fail(f"'{type(node).__name__}' is not allowed")
