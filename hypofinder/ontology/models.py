"""Pydantic models the ontology room hands out (``Context``/``ConceptRef`` live in hypofinder.models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hypofinder.models import ConceptRef


class ConceptLink(BaseModel):
    """A neighbouring concept, by id and label."""

    id: str
    label: str


class ConceptHit(BaseModel):
    """One search result: a PhySH concept with its role, framework and retrieval score."""

    id: str = Field(description="PhySH DOI URI")
    label: str
    facet: str | None = Field(default=None, description="Primary facet (stated or inherited)")
    discipline: str | None = Field(default=None, description="Primary discipline (stated or inherited)")
    disciplines: list[str] = Field(default_factory=list)
    role: str
    framework: str
    score: float = Field(description="Hybrid retrieval score, higher is better (cosine plus small boosts)")
    broader: list[str] = Field(default_factory=list, description="Broader concept labels")
    narrower: list[str] = Field(default_factory=list, description="Narrower concept labels")
    matched: str | None = Field(default=None, description="Label or alt label found verbatim in the query, if any")

    def ref(self) -> ConceptRef:
        return ConceptRef(id=self.id, label=self.label, facet=self.facet, discipline=self.discipline)


class Concept(BaseModel):
    """Everything PhySH says about one concept, for the explorer and ``hypofinder ontology show``."""

    id: str
    label: str
    alt_labels: list[str] = Field(default_factory=list)
    hidden_labels: list[str] = Field(default_factory=list)
    scope_note: str | None = None
    facet: str | None = None
    facets: list[str] = Field(default_factory=list)
    discipline: str | None = None
    disciplines: list[str] = Field(default_factory=list)
    inherited: bool = Field(description="Facet/discipline come from broader concepts, not stated on this one")
    broader: list[ConceptLink] = Field(default_factory=list)
    narrower: list[ConceptLink] = Field(default_factory=list)
    related: list[ConceptLink] = Field(default_factory=list)
    role: str | None = None
    framework: str | None = None
    deprecated: bool = False
    exclude_from_indexing: bool = False
    is_facet: bool = False

    def ref(self) -> ConceptRef:
        return ConceptRef(id=self.id, label=self.label, facet=self.facet, discipline=self.discipline)


class IndexInfo(BaseModel):
    """State of the persistent Chroma collection of PhySH concepts."""

    path: str
    collection: str
    count: int = Field(description="Concepts in the index")
    entries: int = Field(default=0, description="Vectors stored (labels, alternative labels, descriptions)")
    built: bool = Field(description="True when this call (re)built the collection")
    seconds: float = Field(description="Time this call spent opening or building")
    physh_sha256: str
    physh_version: str
    model: str
