"""Processing templates: named chains of raster functions, offered as styles or applied on request."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ogcserver.core.config import Frozen, Name
from ogcserver.core.functions.library import AnyFunction
from ogcserver.core.functions.over_dimensions import OverDimensions
from ogcserver.model.catalog import TimeRange
from ogcserver.model.errors import InvalidValue
from ogcserver.model.time import parse_time


class ChangeConfig(Frozen):
    """A second input for change detection: the same chain applied to the items of a reference
    time, then combined with the request's (its TIME, or every item) pixel by pixel."""

    reference: str  # a TIME value: "2021", "2021-06", "2021-05-01/2021-09-30", ...
    operation: Literal["difference", "ratio"] = "difference"  # request minus / over reference

    @field_validator("reference")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            parse_time(value, "reference")
        except InvalidValue as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def time(self) -> TimeRange:
        return parse_time(self.reference, "reference")


class ProcessingTemplate(Frozen):
    """A named chain of raster functions, offered as a style of the layers that list it."""

    name: Name
    title: str = ""
    abstract: str = ""
    bands: tuple[int, ...] | None = Field(None, min_length=1, max_length=16)  # source bands read (default: all)
    # what is computed across the steps of the layer's dimensions before the chain (aggregate,
    # anomaly, change); None: the chain runs on one step
    over: OverDimensions | None = None
    chain: tuple[Annotated[AnyFunction, Field(discriminator="function")], ...] = Field((), max_length=8)
    compare: ChangeConfig | None = None  # two inputs: change between the request's time and a reference
    per_item: bool = False  # apply the chain to each mosaic item, then combine them by the layer's operator
    then: tuple[Annotated[AnyFunction, Field(discriminator="function")], ...] = Field((), max_length=8)

    @model_validator(mode="after")
    def _then_needs_compare(self) -> ProcessingTemplate:
        if not self.chain and self.over is None:
            raise ValueError(f"template '{self.name}': give a 'chain' of functions, or 'over' the dimensions")
        if self.over is not None and self.compare is not None:
            raise ValueError(f"template '{self.name}': 'over' compares steps itself (anomaly, change); "
                             "drop 'compare'")
        if self.then and self.compare is None:
            raise ValueError(f"template '{self.name}': 'then' applies to a comparison; add 'compare'")
        if self.per_item and any(f.context() for f in self.chain):
            raise ValueError(f"template '{self.name}': neighbourhood functions cannot run per item (item edges "
                             "would show); run them on the mosaic")
        return self


def with_over(template: ProcessingTemplate | None, over: OverDimensions) -> ProcessingTemplate:
    """A request's function over the dimensions (WMS AGGREGATE) before a style's chain; with no
    chain, the layer's own rendering follows. A style that compares times itself cannot take one."""
    if template is None:
        return ProcessingTemplate(name="over", over=over)
    if template.compare is not None or template.over is not None:
        raise InvalidValue("AGGREGATE", f"the style '{template.name}' already compares or aggregates steps")
    return template.model_copy(update={"over": over})
