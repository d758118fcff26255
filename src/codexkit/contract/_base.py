"""The base of every contract model, and the record of one REST operation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["ContractModel", "OpenBody", "Operation", "to_wire"]


class ContractModel(BaseModel):
    """A JSON object of the control-plane contract.

    Python names are snake_case; the wire names (camelCase, as the contract spells them)
    are the aliases, and either is accepted on input. Fields the contract does not name
    are ignored unless the schema allows them (``additionalProperties: true``: kept in
    ``model_extra``) or forbids them (``false``: an error).
    """

    # The aliases come from a generator, not from `Field(alias=...)`, so that type checkers
    # see the Python names as the constructor's keywords.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        protected_namespaces=(),
        defer_build=True,
    )


class OpenBody(ContractModel):
    """A request body the contract leaves open: any JSON object, often sent empty."""

    model_config = ConfigDict(extra="allow")


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON object a model stands for: wire names, and only the fields that were set
    (a key the contract marks required but nullable is set, so it stays, as ``null``)."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


@dataclass(frozen=True)
class Operation:
    """One operation of the contract: where it lives, what it takes, what it answers.

    ``body`` is the request body's model (``None``: the operation takes none) and
    ``body_required`` whether a client must send it; ``query`` the model of its query
    parameters; ``responses`` the model of each documented status that has a schema.
    """

    operation_id: str
    method: str
    path: str
    summary: str
    body: Any = None
    body_required: bool = False
    query: type[ContractModel] | None = None
    path_params: tuple[str, ...] = ()
    responses: dict[int, Any] = field(default_factory=dict)
    statuses: tuple[int, ...] = ()
