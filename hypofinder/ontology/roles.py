"""Role rules (``ontology/roles.yaml``): concept facet / discipline -> researcher role + framework."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from hypofinder.errors import BadInputError
from hypofinder.ontology.physh import Node, PhyshGraph


class RoleRule(BaseModel):
    """One rule: when every named condition holds, the concept gets this role and framework."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facet: str | None = None
    discipline: str | None = None
    role: str
    framework: str

    @model_validator(mode="after")
    def _has_condition(self) -> RoleRule:
        if self.facet is None and self.discipline is None:
            raise ValueError("a rule needs a facet or a discipline")
        return self


class RoleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    rules: list[RoleRule]


@dataclass(frozen=True)
class Assignment:
    role: str
    framework: str
    facet: str | None  # the facet shown for the concept (the rule's, else its first)
    discipline: str | None  # the discipline shown (the rule's, else the first in rule order)


class RoleRules:
    """Ordered rules checked against a PhySH graph; ``assign`` gives a concept its role."""

    def __init__(self, rules: list[RoleRule], graph: PhyshGraph, source: str = "roles.yaml"):
        self.rules = rules
        self.graph = graph
        bad_f = sorted({r.facet for r in rules if r.facet and r.facet not in graph.facets})
        bad_d = sorted({r.discipline for r in rules if r.discipline and r.discipline not in graph.disciplines})
        if bad_f:
            raise BadInputError(f"{source}: unknown facet(s) {bad_f}; valid: {sorted(graph.facets)}")
        if bad_d:
            raise BadInputError(f"{source}: unknown discipline(s) {bad_d}; valid: {sorted(graph.disciplines)}")
        self._facet_rank = _first_seen(r.facet for r in rules)
        self._disc_rank = _first_seen(r.discipline for r in rules)
        self._cache: dict[str, Assignment | None] = {}

    @property
    def covered_facets(self) -> set[str]:
        return {r.facet for r in self.rules if r.facet}

    @property
    def covered_disciplines(self) -> set[str]:
        return {r.discipline for r in self.rules if r.discipline}

    @property
    def frameworks(self) -> list[str]:
        return sorted({r.framework for r in self.rules})

    @staticmethod
    def _primary(weights: tuple[tuple[str, float], ...], rank: dict[str, int]) -> str | None:
        if not weights:
            return None
        return min(weights, key=lambda vw: (-round(vw[1], 9), rank.get(vw[0], len(rank)), vw[0]))[0]

    def primary_facet(self, node: Node) -> str | None:
        """The facet most of the concept's broader paths lead to (ties: the earlier in the rules)."""
        return self._primary(node.facet_weights, self._facet_rank)

    def primary_discipline(self, node: Node) -> str | None:
        return self._primary(node.discipline_weights, self._disc_rank)

    def assign(self, node: Node) -> Assignment | None:
        """Role/framework of the first rule matching the concept's primary facet and discipline."""
        if node.id in self._cache:
            return self._cache[node.id]
        facet = self.primary_facet(node)
        disc = self.primary_discipline(node)
        facets = {facet, self.graph.facets[facet].parent} if facet in self.graph.facets else set()
        result = None
        for r in self.rules:
            if r.facet and r.facet not in facets:
                continue
            if r.discipline and not (
                r.discipline == disc
                or (r.discipline in self.graph.disciplines and self.graph.disciplines[r.discipline].whole_taxonomy)
            ):
                continue
            result = Assignment(r.role, r.framework, facet, disc)
            break
        self._cache[node.id] = result
        return result


def _first_seen(values) -> dict[str, int]:
    rank: dict[str, int] = {}
    for v in values:
        if v and v not in rank:
            rank[v] = len(rank)
    return rank


def rules_path() -> Path:
    from hypofinder.settings import settings

    return Path(settings().rules_dir) / "roles.yaml"


def read_rules(path: Path) -> list[RoleRule]:
    """Parse and validate the rule file (one clear line on any problem)."""
    if not path.exists():
        from hypofinder.errors import DataNotFoundError

        raise DataNotFoundError(f"role rules not found: looked in {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RoleFile.model_validate(data).rules
    except yaml.YAMLError as exc:
        raise BadInputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadInputError(f"{path}: {where}: {err['msg']}") from None


def load_rules(graph: PhyshGraph, path: Path | None = None) -> RoleRules:
    """The rules at ``path`` (default ``<rules_dir>/roles.yaml``) bound to ``graph``, cached per graph."""
    p = Path(path) if path else rules_path()
    key = ("roles", str(p), p.stat().st_mtime_ns if p.exists() else 0)
    if key not in graph.cache:
        graph.cache[key] = RoleRules(read_rules(p), graph, source=str(p))
    return graph.cache[key]
