"""The pydantic models that travel between the rooms of hypofinder.

ontology -> ``Context``; llm answers -> ``Hypothesis`` / ``Review`` / ``Synthesis``;
bridge -> ``Validation``; pipeline -> ``HypothesisReport``. Nothing else crosses a seam.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from hypofinder.prediction import PropertyPrediction as PropertyPrediction  # re-exported: the prediction record
from hypofinder.prediction import Target as Target
from hypofinder.quality import REVIEW_OPENINGS, SENTENCE_PATTERN, sentence_pattern

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

Direction = Literal["increases", "decreases", "no_change"]
Arrangement = Literal["any", "clustered", "dispersed"]
Variable = Literal["pair_distance", "defect_count", "none"]
Verdict = Literal["supported", "contradicted", "inconclusive", "out of scope"]


class ValidationRequest(BaseModel):
    """A claim about point defects in a 2D host, phrased so the predictor can check it."""

    # The JSON-schema enum/pattern steer LLM decoding; unknown hosts still parse (bridge: "out of scope").
    host: str = Field(description="2D host", json_schema_extra={"enum": KNOWN_HOSTS})
    defects: list[DefectToken] = Field(
        min_length=1,
        max_length=12,
        description="e.g. ['vS', 'vS'] or ['W_Mo', 'vSe']",
        json_schema_extra={"items": {"type": "string", "pattern": DEFECT_TOKEN_PATTERN}, "maxItems": 6},
    )
    arrangement: Arrangement = "any"
    min_distance: float | None = Field(default=None, ge=0, description="Å, smallest defect pair distance")
    max_distance: float | None = Field(default=None, ge=0, description="Å, largest defect pair distance")
    same_layer: bool | None = None
    target: Target = "homo_lumo_gap"
    variable: Variable = Field(default="pair_distance", description="What the claim varies")
    direction: Direction = Field(description="How the target changes as the variable grows")
    claimed_min: float | None = Field(
        default=None, description="Lower bound of a claimed range (eV; μB for magnetization)"
    )
    claimed_max: float | None = Field(
        default=None, description="Upper bound of a claimed range (eV; μB for magnetization)"
    )


class ConfigurationPrediction(PropertyPrediction):
    """One concrete defect configuration of a request, predicted."""

    label: str
    defects: list[DefectToken]
    variable_value: float | None = Field(default=None, description="e.g. mean pair distance (Å)")
    cif: str | None = None


class Validation(BaseModel):
    """Predictor evidence for one hypothesis."""

    request: ValidationRequest | None = None
    predictions: list[ConfigurationPrediction] = Field(default_factory=list)
    verdict: Verdict
    summary: str = Field(description="One sentence with the reason for the verdict")
    trend: float | None = Field(default=None, description="Slope of target vs variable (eV per unit)")

    @property
    def applies(self) -> bool:
        """The predictor had something to say: numbers, or a defect request (a bad one says why it failed)."""
        return bool(self.predictions) or self.request is not None


# --------------------------------------------------------------------------- plan (PhySH facts for the generator)


class PlanFact(BaseModel):
    """One planned fact: a PhySH concept the hypothesis should build on, numbered for the prompt ([T1] ...)."""

    id: str = Field(description="Y1 system, P1 property, T1.. technique")
    kind: Literal["system", "property", "technique"]
    label: str
    concept_id: str = Field(description="PhySH DOI URI")
    facet: str = Field(description="The PhySH facet it was picked from")
    note: str = Field(default="", description="PhySH scope note, cut short ('' where PhySH has none)")


class Plan(BaseModel):
    """What PhySH says a question is about, picked before generation (hypofinder.ontology.plan)."""

    systems: list[PlanFact] = Field(default_factory=list)
    properties: list[PlanFact] = Field(default_factory=list)
    techniques: list[PlanFact] = Field(default_factory=list)

    @property
    def facts(self) -> list[PlanFact]:
        return [*self.systems, *self.properties, *self.techniques]

    @property
    def technique_labels(self) -> tuple[str, ...]:
        return tuple(f.label for f in self.techniques)


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


class Evidence(BaseModel):
    """Predictor numbers planned from the question and gathered before generation.

    The planner reads the question's defect space (host, defect species, property, variable, the
    claimed direction); ``facts`` are the planned requests with their predictions, given to the
    generator as [E1], [E2] ... Out of scope: no facts, and ``reason`` says why.
    """

    in_scope: bool = Field(description="The question concerns point defects in a host the predictor knows")
    reason: str = Field(description="What was read and assumed, or why the question gets no numbers")
    host: str | None = None
    species: list[DefectToken] = Field(default_factory=list, description="Defect types read, e.g. ['vS', 'W_Mo']")
    property: str | None = Field(default=None, description="The property the question names (None: not named)")
    target: Target = Field(default="homo_lumo_gap", description="The predicted target the facts are about")
    variable: Variable | Literal["layer"] | None = Field(default=None, description="What the question varies")
    direction: Direction | None = Field(default=None, description="The claim the question states, if any")
    kind: Literal["trend", "comparison", "screen", "none"] = "none"
    copies: int = Field(
        default=1, ge=1, le=6, description="Defects of each species per configuration (count trends: 1..6)"
    )
    assumptions: list[str] = Field(default_factory=list, description="How ambiguous words were read")
    facts: list[Validation] = Field(
        default_factory=list, description="[E1], [E2] ...: each a planned request, its predictions and one sentence"
    )
    summary: str = Field(default="", description="One sentence: what the generator was given")

    def fact_ids(self) -> list[str]:
        return [f"E{i}" for i in range(1, len(self.facts) + 1)]


# --------------------------------------------------------------------------- llm answers
# Each LLM answer schema is the report record minus its report-only fields: the record subclasses the
# answer (GeneratedHypothesis -> Hypothesis, ReviewAnswer -> Review, SynthesisAnswer -> Synthesis), so a
# new field is added in one class. Free-text fields are ``Sentence``s: their JSON-schema ``pattern``
# becomes a decoding grammar that admits prose only (see hypofinder.quality.SENTENCE_PATTERN). The
# pattern is a decoding hint, not a validation rule: a server's answer that breaks it is re-asked once
# and then flagged (``quality_flags``) by hypofinder.proofread, never rejected.


def sentence_type(pattern: str = SENTENCE_PATTERN):
    """A non-empty string that must match ``pattern`` (a JSON-schema pattern: a grammar for local models)."""
    return Annotated[str, Field(min_length=1, json_schema_extra={"pattern": pattern})]


Sentence = sentence_type()
ReviewSentence = sentence_type(sentence_pattern(opening=REVIEW_OPENINGS))  # opens "Its strength is ..."


class Rubric(BaseModel):
    novelty: int = Field(ge=0, le=100)
    plausibility: int = Field(ge=0, le=100)
    testability: int = Field(ge=0, le=100)
    specificity: int = Field(ge=0, le=100)


class GeneratedHypothesis(BaseModel):
    """The generator's answer for one context."""

    summary: Sentence = Field(description="The question framed from the context's point of view")
    statement: Sentence = Field(description="The hypothesis, one sentence")
    rationale: Sentence = Field(description="Why it may hold")
    steps: list[Sentence] = Field(min_length=3, max_length=6, description="Steps to test it, in order")
    validation_request: ValidationRequest | None = None


class ReviewAnswer(BaseModel):
    """The reviewer's answer for one hypothesis."""

    text: ReviewSentence = Field(description="The review: main strength and main weakness")
    rubric: Rubric
    score: int = Field(ge=0, le=100)


class SynthesisAnswer(BaseModel):
    """The synthesizer's answer."""

    representation: Sentence = Field(description="The unified representation / model proposed")
    hypothesis: Sentence = Field(description="One combined, testable hypothesis")
    steps: list[Sentence] = Field(min_length=3, max_length=6, description="Steps to test it, in order")
    validation_request: ValidationRequest | None = None


class QualityFlagged(BaseModel):
    """Report-only: the free-text fields that stayed weak after one regeneration."""

    quality_flags: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Field (e.g. 'steps[1]') -> why it does not read as prose or is off topic",
    )


class Hypothesis(GeneratedHypothesis, QualityFlagged):
    """A generated hypothesis as reported."""


class Review(ReviewAnswer, QualityFlagged):
    """A review as reported: ``score`` and ``rubric`` computed from the model's rubric and what can be checked
    (hypofinder.scoring); the model's own numbers kept beside them."""

    model_score: int | None = Field(default=None, description="The reviewer model's own overall score")
    model_rubric: Rubric | None = Field(default=None, description="The reviewer model's own rubric")
    checks: dict[str, int] = Field(
        default_factory=dict, description="Checked values 0-100 (specificity, testability, plausibility, novelty)"
    )


class Synthesis(SynthesisAnswer, QualityFlagged):
    """The synthesis as reported, with the predictor's evidence."""

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
    hypothesis: Hypothesis
    review: Review
    plan: Plan | None = Field(default=None, description="The PhySH facts the generator was given ([Y1] [P1] [T1]...)")
    evidence: Evidence | None = Field(default=None, description="What the generator was given before writing")
    validation: Validation | None = None
    sources: list[Source] = Field(default_factory=list, description="Library passages given as [S1]..., best first")
    citation_flags: list[CitationFlag] = Field(default_factory=list)
    novelty: Novelty | None = Field(default=None, description="Novelty against the library (grounded runs)")
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

    @property
    def summary(self) -> str:
        return self.hypothesis.summary

    @property
    def quality_flags(self) -> dict[str, list[str]]:
        """Weak fields of this context's hypothesis and review, e.g. {'hypothesis.statement': [...]}."""
        return {
            f"{part}.{k}": v for part in ("hypothesis", "review") for k, v in getattr(self, part).quality_flags.items()
        }


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
    llm_seconds: float = Field(
        default=0.0, description="Time inside the model's calls (prompt evaluation and decoding), summed over calls"
    )
    step_seconds: dict[str, float] = Field(default_factory=dict)
    validate_enabled: bool = True
    library: str | None = Field(default=None, description="The literature library the run was grounded in")
    rounds: int = Field(default=0, description="Revision rounds run")
    tournament_enabled: bool = False
    capability: str = Field(default="tiny", description="The answer profile the run used (hypofinder.profiles)")
    raw: bool = Field(
        default=False,
        description="One plain call (the ablation baseline, hypofinder.plain): one context holds the answer, "
        "with no review; the synthesis repeats it",
    )
    cached: bool = Field(default=False, description="The whole report was served from the cache")


class HypothesisReport(BaseModel):
    query: str
    contexts: list[ContextResult]
    synthesis: Synthesis
    tournament: Tournament | None = None
    run: RunManifest
