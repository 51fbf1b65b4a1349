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


class Revision(BaseModel):
    """An earlier version of a context's hypothesis, with the critique that led to its revision."""

    statement: str
    score: int = Field(ge=0, le=100, description="Review score of this version")
    critique: str = Field(description="The review text the reviser was told")
    verdict: Verdict | None = Field(default=None, description="Predictor evidence on this version")


class ContextResult(BaseModel):
    id: str = Field(default="", description="Stable id in generation order (H1, H2, ...); matches refer to it")
    role: str
    framework: str
    concepts: list[ConceptRef]
    summary: str
    hypothesis: Hypothesis
    review: Review
    validation: Validation | None = None
    revisions: list[Revision] = Field(default_factory=list, description="Earlier versions, oldest first")
    elo: float | None = Field(default=None, description="Tournament Elo rating (None: no tournament)")
    rank_score: float = Field(
        default=0.0,
        description="0-100, contexts are sorted by it: 0.6 x elo_score + 0.4 x review score + evidence bonus "
        "(elo_score = 50 + (Elo - start) / 2); without a tournament review score + evidence bonus. "
        "Evidence bonus: supported +10, contradicted -25 (hypofinder.tournament.rank_score)",
    )

    @property
    def title(self) -> str:
        return f"{self.role} / {self.framework} :: {self.concepts[0].label}"


# --------------------------------------------------------------------------- tournament


class Match(BaseModel):
    """One pairwise match, judged in both orders; a split decision is a draw."""

    a: str = Field(description="Context id")
    b: str = Field(description="Context id")
    winner: str = Field(description="a, b, or 'draw'")
    reason: str = Field(description="The judge's one-sentence reason")
    votes: list[str] = Field(default_factory=list, description="The side chosen with a shown first, then b first")


class Rating(BaseModel):
    id: str
    elo: float
    std: float = Field(description="Bootstrap standard deviation over resampled matches")
    wins: int = 0
    draws: int = 0
    losses: int = 0


class Merge(BaseModel):
    """A near-duplicate hypothesis merged into a kept one before the tournament."""

    id: str
    into: str
    similarity: float = Field(description="Cosine similarity of the statements' embeddings")
    statement: str = ""
    role: str = ""


class Tournament(BaseModel):
    matches: list[Match] = Field(default_factory=list)
    ratings: list[Rating] = Field(default_factory=list, description="Best first")
    merged: list[Merge] = Field(default_factory=list)
    k: float = Field(description="Elo K factor")
    start: float = Field(description="Elo start value")
    bootstrap: int = Field(description="Resamples behind each rating's std")
    pairing: Literal["all pairs", "swiss"] = "all pairs"
    rounds: int = 0
    dedup_threshold: float = Field(description="Cosine similarity at or above which hypotheses are merged")


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
    rounds: int = Field(default=0, description="Revision rounds run")
    tournament_enabled: bool = False
    cached: bool = Field(default=False, description="The whole report was served from the cache")


class HypothesisReport(BaseModel):
    query: str
    contexts: list[ContextResult]
    synthesis: Synthesis
    tournament: Tournament | None = None
    run: RunManifest
