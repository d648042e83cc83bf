"""The one policy function: may this principal do this action on this layer, and within what?

Every protocol asks here before it reads anything (or, later, consults a cache). A layer the
caller may not discover is reported exactly like a layer that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ogcserver.core.config import AccessDefinition, GrantConfig
from ogcserver.model.access import UNCONSTRAINED, AccessDenied, Action, Constraints, Principal
from ogcserver.model.catalog import CatalogItem, LayerInfo
from ogcserver.model.errors import LayerNotFound

audit = logging.getLogger("ogcserver.audit")


def _rings(area: dict) -> tuple[tuple[tuple[float, float], ...], ...]:
    polygons = [area["coordinates"]] if area["type"] == "Polygon" else area["coordinates"]
    return tuple(tuple((float(x), float(y)) for x, y, *_ in ring) for polygon in polygons for ring in polygon)


@dataclass(frozen=True)
class Grant:
    to: str
    service: str
    layers: frozenset[str]
    actions: frozenset[Action]
    constraints: Constraints

    @classmethod
    def from_config(cls, g: GrantConfig) -> Grant:
        constraints = Constraints(
            area=_rings(g.area) if g.area else None,
            max_resolution=g.max_resolution,
            time=g.time,
            items={k: tuple(v) for k, v in g.items.items()},
        )
        return cls(g.to, g.service, frozenset(g.layers), frozenset(Action(a) for a in g.actions), constraints)

    def applies_to(self, principal: Principal) -> bool:
        if self.to == "anonymous":
            return True  # what anonymous may do, everyone may do
        if self.to == "authenticated":
            return principal.authenticated
        kind, _, name = self.to.partition(":")
        if kind == "group":
            return principal.authenticated and name in principal.groups
        return principal.kind in ({"user", "token", "proxy"} if kind == "user" else {"key"}) and principal.name == name

    def covers(self, service: str, layer: str, action: Action) -> bool:
        return self.service == service and (not self.layers or layer in self.layers) and action in self.actions


class Policy:
    def __init__(self, access: AccessDefinition | None) -> None:
        self.open = access is None
        self.grants = tuple(Grant.from_config(g) for g in access.grants) if access else ()

    def decide(self, principal: Principal, info: LayerInfo, action: Action) -> Constraints | None:
        """The constraints under which the action is allowed, or None when it is not.

        Several grants may allow it: one without constraints wins, otherwise the first applies.
        """
        if self.open:
            return UNCONSTRAINED
        found: Constraints | None = None
        for grant in self.grants:
            if grant.covers(info.service, info.name, action) and grant.applies_to(principal):
                if grant.constraints.unconstrained:
                    return UNCONSTRAINED
                found = found or grant.constraints
        return found

    def may_administer(self, principal: Principal) -> bool:
        """Whether an "admin" grant applies to the principal; never without an access section,
        so an open server has no administration over HTTP."""
        return any(Action.ADMIN in g.actions and g.applies_to(principal) for g in self.grants)

    def may_discover(self, principal: Principal, info: LayerInfo) -> bool:
        return self.decide(principal, info, Action.DISCOVER) is not None

    def reveal(self, principal: Principal, info: LayerInfo, action: Action, operation: str) -> None:
        """Raise LayerNotFound unless the principal may discover the layer: the first thing to
        ask, before any check of a parameter against the layer (its tile matrices, bands, ...)
        could tell a hidden layer from a missing one."""
        if not self.open and not self.may_discover(principal, info):
            audit.info("denied", extra=_entry(principal, info, action, operation, "hidden"))
            raise LayerNotFound(info.name)

    def check(self, principal: Principal, info: LayerInfo, action: Action, operation: str) -> Constraints:
        """Allow, or raise: not discoverable -> LayerNotFound; else 401/403 material."""
        if self.open:
            return UNCONSTRAINED
        self.reveal(principal, info, action, operation)
        constraints = self.decide(principal, info, action)
        if constraints is None:
            audit.info("denied", extra=_entry(principal, info, action, operation, "forbidden"))
            raise AccessDenied(
                f"{'you may not' if principal.authenticated else 'log in to'} {action.value} layer '{info.name}'",
                principal.authenticated,
            )
        audit.info("allowed", extra=_entry(principal, info, action, operation, "allowed"))
        return constraints

    def visible(self, principal: Principal, infos: Iterable[LayerInfo]) -> list[LayerInfo]:
        return [info for info in infos if self.may_discover(principal, info)]


def _entry(principal: Principal, info: LayerInfo, action: Action, operation: str, outcome: str) -> dict:
    return {
        "principal": principal.name, "principal_kind": principal.kind, "service": info.service,
        "layer": info.name, "action": action.value, "operation": operation, "outcome": outcome,
    }


def item_allowed(item: CatalogItem, constraints: Constraints) -> bool:
    """Whether a mosaic item passes a grant's time window and attribute filter."""
    if constraints.time is not None:
        acquired = item.source.acquired
        if acquired is None or not (constraints.time[0] <= acquired <= constraints.time[1]):
            return False
    for key, allowed in constraints.items.items():
        value = item.properties.get(key, item.source.attributes.get(key))
        if value is None or str(value) not in allowed:
            return False
    return True

