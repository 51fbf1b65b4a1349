"""Request and response bodies of the HTTP API. Run options come from ``RunConfig`` (generated, so their
names, limits and help are declared once); screening options from ``screen()``'s signature."""

from __future__ import annotations

import inspect
import typing
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from hypofinder.service.store import JobRecord
from hypofinder.settings import RunConfig

# options a client may not set: where the server's model calls go, and the server's own limits
SERVER_ONLY = frozenset({"base_url", "max_query_chars", "timeout_s"})


def _optional(name: str) -> tuple[Any, Any]:
    field = RunConfig.model_fields[name]
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return Optional[annotation], Field(default=None, description=field.description, alias=field.alias)


RunOptions = create_model(
    "RunOptions",
    __config__=ConfigDict(extra="forbid", populate_by_name=True),
    __doc__="Run options (any not given: the server's configuration). Limits as in the CLI.",
    **{name: _optional(name) for name in RunConfig.model_fields if name not in SERVER_ONLY},
)


def given_options(body: BaseModel, exclude: set[str]) -> dict[str, Any]:
    """The run options a request set, by RunConfig field name."""
    return body.model_dump(exclude_unset=True, exclude_none=True, exclude=exclude)


class JobRequest(RunOptions):  # type: ignore[misc,valid-type]
    query: str = Field(description="The research question")


class BatchRequest(RunOptions):  # type: ignore[misc,valid-type]
    queries: list[dict[str, Any]] = Field(description='Questions: {"id": ..., "query": ..., other fields carried}')
    concurrency: int = Field(default=1, ge=1, description="Questions in parallel (the server caps it)")


class JobPage(BaseModel):
    items: list[JobRecord] = Field(description="Newest first, without reports and batch items")
    total: int
    limit: int
    offset: int
    next_offset: int | None


class BatchView(JobRecord):
    status: dict[str, Any] = Field(default_factory=dict, description="Per-question counts and pending ids")


class ResultPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Result lines as written by `hypofinder mine`")
    total: int
    offset: int
    next_offset: int | None


def _screen_request() -> type[BaseModel]:
    from hypofinder.defects.screening import MAX_CONFIGS, screen

    hints = typing.get_type_hints(screen)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(screen).parameters.items():
        if name in ("predictor",):
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        if name == "max_configs":  # a client may ask for less, never more than the default cap
            fields[name] = (int, Field(default=default, ge=1, le=MAX_CONFIGS))
        elif name == "with_cif":
            fields[name] = (bool, Field(default=False, description="Include CIF text of the best"))
        else:
            fields[name] = (hints[name], default)
    return create_model("ScreenRequest", __config__=ConfigDict(extra="forbid"), **fields)


ScreenRequest = _screen_request()
