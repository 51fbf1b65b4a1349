"""The pydantic models that travel between the rooms of hypofinder.

ontology -> ``Context``; llm answers -> ``Hypothesis`` / ``Review`` / ``Synthesis``;
bridge -> ``Validation``; pipeline -> ``HypothesisReport``. Nothing else crosses a seam.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# --------------------------------------------------------------------------- ontology


class ConceptRef(BaseModel):
    """A PhySH concept as cited by a context."""

    id: str = Field(description="PhySH DOI URI")
    label: str
    facet: str | None = None
    discipline: str | None = None


class Context(BaseModel):
    """A role-based context: who is asking, in which framework, about which concepts."""

    role: str = Field(description="Researcher role, e.g. 'Computational Physicist'")
    framework: str = Field(description="Broad framework, e.g. 'Computational Physics'")
    concepts: list[ConceptRef] = Field(min_length=1)
    score: float = Field(default=0.0, description="Retrieval score of the lead concept (higher is better)")

    @property
    def concept(self) -> ConceptRef:
        return self.concepts[0]

    @property
    def title(self) -> str:
        return f"{self.role} / {self.framework} :: {self.concept.label}"


# --------------------------------------------------------------------------- bridge requests

DefectToken = str  # "vS" = S vacancy, "W_Mo" = W on a Mo site (see hypofinder.bridge)
DEFECT_TOKEN_PATTERN = r"^(v[A-Z][a-z]?|[A-Z][a-z]?_[A-Z][a-z]?)$"
KNOWN_HOSTS = ["MoS2", "WSe2", "BN", "GaSe", "InSe", "P"]

Target = Literal["homo_lumo_gap", "formation_energy_per_site"]
Direction = Literal["increases", "decreases", "no_change"]
Arrangement = Literal["any", "clustered", "dispersed"]
Variable = Literal["pair_distance", "defect_count", "none"]
Verdict = Literal["supported", "contradicted", "inconclusive", "out of scope"]


class ValidationRequest(BaseModel):
    """A claim about point defects in a 2D host, phrased so the predictor can check it."""

    # The JSON-schema enum/pattern steer LLM decoding; unknown hosts still parse (bridge: "out of scope").
    host: str = Field(description="2D host", json_schema_extra={"enum": KNOWN_HOSTS})
    defects: list[DefectToken] = Field(
        min_length=1, max_length=12, description="e.g. ['vS', 'vS'] or ['W_Mo', 'vSe']",
        json_schema_extra={"items": {"type": "string", "pattern": DEFECT_TOKEN_PATTERN}, "maxItems": 6},
    )
    arrangement: Arrangement = "any"
    min_distance: float | None = Field(default=None, ge=0, description="Å, smallest defect pair distance")
    max_distance: float | None = Field(default=None, ge=0, description="Å, largest defect pair distance")
    same_layer: bool | None = None
    target: Target = "homo_lumo_gap"
    variable: Variable = Field(default="pair_distance", description="What the claim varies")
    direction: Direction = Field(description="How the target changes as the variable grows")
    claimed_min: float | None = Field(default=None, description="eV, lower bound of a claimed range")
    claimed_max: float | None = Field(default=None, description="eV, upper bound of a claimed range")


class ConfigurationPrediction(BaseModel):
    """One concrete defect configuration, predicted."""

    label: str
    defects: list[DefectToken]
    variable_value: float | None = Field(default=None, description="e.g. mean pair distance (Å)")
    formation_energy_per_site: float
    formation_energy_per_site_std: float
    homo_lumo_gap: float
    homo_lumo_gap_std: float
    in_domain: bool
    cif: str | None = None


class Validation(BaseModel):
    """Predictor evidence for one hypothesis."""

    request: ValidationRequest | None = None
    predictions: list[ConfigurationPrediction] = Field(default_factory=list)
    verdict: Verdict
    summary: str = Field(description="One sentence with the reason for the verdict")
    trend: float | None = Field(default=None, description="Slope of target vs variable (eV per unit)")


# --------------------------------------------------------------------------- library (literature grounding)


class Source(BaseModel):
    """A passage of a paper in a library: a search hit, or a numbered source ([S1] = first) of a context."""

    id: str = Field(description="The paper's id in its library (record id, BibTeX key or file name)")
    title: str
    score: float = Field(description="Cosine similarity to what was asked for (higher is closer)")
    text: str = Field(description="The passage (a snippet of it in reports)")
    page: int | None = Field(default=None, description="PDF page the passage starts on (1-based)")
    year: int | None = None
    doi: str | None = None
    url: str | None = None


class CitationFlag(BaseModel):
    """A citation ([S<n>]) that does not hold: the source is not there, or it does not support the sentence."""

    ref: str = Field(description="The citation as written, e.g. 'S3'")
    sentence: str = Field(description="The citing sentence")
    problem: Literal["unknown source", "unsupported"]
    support: float | None = Field(default=None, description="Similarity of sentence and source (unsupported only)")


class Novelty(BaseModel):
    """How far a hypothesis lies from what the library already holds (1 = nothing like it, 0 = already there)."""

    score: float = Field(ge=0.0, le=1.0)
    closest_id: str | None = None
    closest_title: str | None = None
    similarity: float | None = Field(default=None, description="Cosine similarity to the closest paper")


# --------------------------------------------------------------------------- llm answers


class Hypothesis(BaseModel):
    statement: str
    rationale: str
    steps: list[str]
    validation_request: ValidationRequest | None = None


class Rubric(BaseModel):
    novelty: int = Field(ge=0, le=100)
    plausibility: int = Field(ge=0, le=100)
    testability: int = Field(ge=0, le=100)
    specificity: int = Field(ge=0, le=100)


class Review(BaseModel):
    text: str
    score: int = Field(ge=0, le=100)
    rubric: Rubric


class Synthesis(BaseModel):
    representation: str = Field(description="The unified representation / model proposed")
    hypothesis: str
    steps: list[str]
    validation: Validation | None = None


class ContextResult(BaseModel):
    role: str
    framework: str
    concepts: list[ConceptRef]
    summary: str
    hypothesis: Hypothesis
    review: Review
    validation: Validation | None = None
    rank_score: float = Field(default=0.0, description="Review score combined with evidence (0-100)")
    sources: list[Source] = Field(default_factory=list, description="Library passages given as [S1]..., best first")
    citation_flags: list[CitationFlag] = Field(default_factory=list)
    novelty: Novelty | None = Field(default=None, description="Novelty against the library (grounded runs)")

    @property
    def title(self) -> str:
        return f"{self.role} / {self.framework} :: {self.concepts[0].label}"


# --------------------------------------------------------------------------- report


class RunManifest(BaseModel):
    model: str
    provider: str
    base_url_host: str | None = None
    temperature: float
    seed: int | None = None
    physh_version: str | None = None
    hypofinder_version: str
    git_sha: str | None = None
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = Field(default=0, description="Calls that reached the model (cache misses)")
    cache_hits: int = 0
    seconds: float = 0.0
    step_seconds: dict[str, float] = Field(default_factory=dict)
    validate_enabled: bool = True
    library: str | None = Field(default=None, description="The literature library the run was grounded in")
    cached: bool = Field(default=False, description="The whole report was served from the cache")


class HypothesisReport(BaseModel):
    query: str
    contexts: list[ContextResult]
    synthesis: Synthesis
    run: RunManifest
