"""Configuration text (YAML or JSON) parsed into plain values, never executed and never unbounded.

Only YAML's safe types are built (a ``!!python/object`` tag is an error, never a call). Anchors
and aliases are allowed, as configuration files use them for shared blocks, but what they expand
to is counted: a "billion laughs" document is a few hundred bytes whose aliases expand to 10^9
nodes, harmless to PyYAML (which shares the aliased object) yet fatal to whatever walks the
result (validation, a JSON dump). The count and the nesting depth are checked while the document
is composed, before any value is built, so a hostile document costs at most the bounds given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode


class DocumentRefused(ValueError):
    """A document that is not plain configuration, or too large once its aliases are expanded."""


@dataclass(frozen=True)
class DocumentBounds:
    max_nodes: int = 100_000  # scalars, lists and mappings, aliases counted at their expanded size
    max_depth: int = 64  # nesting of lists and mappings


def _bounded_loader(bounds: DocumentBounds) -> type[yaml.SafeLoader]:
    class BoundedLoader(yaml.SafeLoader):
        """PyYAML's safe loader, counting the expanded nodes and the depth as it composes."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._sizes: dict[int, int] = {}  # expanded size of each composed node, by id
            self._depth = 0
            self._total = 0

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            aliased = self.check_event(yaml.AliasEvent)
            self._depth += 1
            if self._depth > bounds.max_depth:
                raise DocumentRefused(f"the document is nested deeper than {bounds.max_depth} levels")
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            if node is None:
                return node
            size = self._sizes.get(id(node)) if aliased else None
            if size is None:  # a node just composed: itself plus its children's expanded sizes
                size = 1 + self._children_size(node)
                self._sizes[id(node)] = size
                if not aliased:
                    self._total += 1
            if aliased:  # an alias repeats the whole anchored subtree where it stands
                self._total += size
            if self._total > bounds.max_nodes or size > bounds.max_nodes:
                raise DocumentRefused(f"the document expands to more than {bounds.max_nodes} values "
                                      "(aliases counted at their expanded size)")
            return node

        def _children_size(self, node: Node) -> int:
            if isinstance(node, SequenceNode):
                return sum(self._sizes.get(id(child), 1) for child in node.value)
            if isinstance(node, MappingNode):
                return sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
            return 0

    return BoundedLoader


def parse_document(text: str, bounds: DocumentBounds = DocumentBounds()) -> Any:
    """The plain values (dicts, lists, strings, numbers, booleans, dates) of a YAML or JSON text.

    Raises DocumentRefused for anything else: a tag naming a Python object, an expansion or a
    nesting past the bounds, text that is not YAML."""
    loader = _bounded_loader(bounds)(text)
    try:
        return loader.get_single_data()
    except DocumentRefused:
        raise
    except yaml.constructor.ConstructorError as exc:
        raise DocumentRefused(f"not valid YAML: {exc.problem} (only plain data is read, never objects)") from None
    except yaml.YAMLError as exc:
        raise DocumentRefused(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise DocumentRefused(f"the document is nested deeper than {bounds.max_depth} levels") from None
    finally:
        loader.dispose()
