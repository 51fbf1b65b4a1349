"""Hypothesis-quality metrics against a reference set (offline, a few seconds on 2 cores).

- ``keypoint_recall``: share of a reference's key points matched by some sentence or clause of the
  scored hypothesis (cosine similarity of all-MiniLM-L6-v2 embeddings >= KEYPOINT_THRESHOLD, calibrated
  on the labelled pairs in tests/data/keypoint_pairs.jsonl with ``calibrate``);
- ``concept_recall``: PhySH concepts named in the reference (label / alt label) also named in the hypothesis;
- ``junk_rate``: share of the report's text fields that fail ``hypofinder.quality.prose_problems``;
- ``evidence_coverage``: share of point-defect questions whose report carries predictor numbers;
- ``score_recall_spearman``: rank correlation of the reviewer's score with each context's recall;
- ``judge_score``: the LLM judge's 0-5 matched score (only with a judge);
- ``words_scored``: words of the scored text. Every candidate is the same kind of text (hypothesis,
  rationale and steps, ``results``) cut to its first WORD_BUDGET words, because recall rises with length;
- ``seconds_per_report`` and ``calls_per_report``: the report's run time and the model answers it needed
  (calls plus answer-cache hits; a report served whole from the cache has neither).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field

from hypofinder.evaluation.concepts import concepts_in
from hypofinder.evaluation.embedding import Embeddings
from hypofinder.evaluation.references import Reference, sentences, split_claims
from hypofinder.evaluation.results import PICKS, Candidate, Generated, Pick
from hypofinder.ontology.lexical import tokens
from hypofinder.quality import prose_problems

# The word budget of a scored hypothesis: twice a reference hypothesis (benchmarks/data/eval_refs.jsonl, 45-80
# words, 3-5 key points), room for a hypothesis, its reason and three steps written out, while the tail of a
# capable model's 180-300-word answer, where recall grows with length alone, is not scored. 0 or None: whole.
WORD_BUDGET = 150
KEYPOINT_THRESHOLD = 0.57  # calibrate(tests/data/keypoint_pairs.jsonl) for all-MiniLM-L6-v2; see bench_eval.py
COPY_THRESHOLD = 0.9  # a sentence this close to the question restates it ...
COPY_WORD_SHARE = 0.75  # ... and so does one made mostly of the question's words
METRIC_KEYS = (
    "n",
    "keypoint_recall",
    "concept_recall",
    "junk_rate",
    "evidence_coverage",
    "score_recall_spearman",
    "judge_score",
    "words_scored",
    "seconds_per_report",
    "calls_per_report",
    "per_question",
)


class QuestionScore(BaseModel):
    """The metrics of one question."""

    id: str
    variant: str | None = Field(default=None, description="The ablation variant (hypofinder.evaluation.variants)")
    scored: str | None = Field(default=None, description="Which hypothesis was scored: 'context 2', 'synthesis'...")
    words: int = Field(default=0, description="Words of the scored text (at most the word budget)")
    seconds: float | None = Field(default=None, description="The report's run time (None: served from the cache)")
    llm_calls: int | None = Field(default=None, description="Model answers the report needed (calls + cache hits)")
    keypoint_recall: float
    key_points_matched: list[bool] = Field(default_factory=list)
    concept_recall: float | None = Field(default=None, description="None: the reference names no PhySH concept")
    concepts: list[str] = Field(default_factory=list, description="PhySH labels named in the reference")
    concepts_found: list[str] = Field(default_factory=list)
    junk_fields: int = 0
    text_fields: int = 0
    point_defect: bool = False
    evidence: bool | None = Field(default=None, description="Predictor numbers in the report (point-defect questions)")
    review_recall: list[tuple[int, float]] = Field(
        default_factory=list, description="(review score, key-point recall) per context"
    )
    judge_score: int | None = Field(default=None, ge=0, le=5)
    judge_reason: str | None = None
    error: str | None = None

    @property
    def junk_rate(self) -> float | None:
        return self.junk_fields / self.text_fields if self.text_fields else None


class EvalScores(BaseModel):
    """The metrics of a whole reference set."""

    n: int
    keypoint_recall: float | None
    concept_recall: float | None
    junk_rate: float | None
    evidence_coverage: float | None
    score_recall_spearman: float | None
    judge_score: float | None = None
    words_scored: float | None = Field(default=None, description="Mean words of the scored texts")
    seconds_per_report: float | None = None
    calls_per_report: float | None = None
    word_budget: int | None = Field(default=WORD_BUDGET, description="Words scored per hypothesis (None: whole)")
    variant: str | None = None
    pick: Pick = "top"
    threshold: float = KEYPOINT_THRESHOLD
    failed: int = Field(0, description="Questions whose line is an error (scored as recall 0)")
    missing: list[str] = Field(default_factory=list, description="Reference ids without a result (not scored)")
    per_question: list[QuestionScore] = Field(default_factory=list)


# --------------------------------------------------------------------------- key points


def units(text: str) -> list[str]:
    """The pieces of a hypothesis a key point may match: its sentences and their clauses."""
    out: list[str] = []
    for s in sentences(text):
        out.append(s)
        out += [c for c in split_claims(s) if c != s]
    return list(dict.fromkeys(out))


def restates(unit: str, question: str) -> bool:
    """Most of the unit's content words (COPY_WORD_SHARE) are the question's own words."""
    words = [w for w in tokens(unit) if not w.isdigit()]
    asked = set(tokens(question))
    return not words or sum(w in asked for w in words) / len(words) >= COPY_WORD_SHARE


def best_similarity(points: list[str], text: str, emb: Embeddings, question: str | None = None) -> np.ndarray:
    """For each key point, the highest cosine similarity to any unit of ``text``.

    With ``question``, units that merely restate it (similarity >= COPY_THRESHOLD) do not count: a
    hypothesis gets no credit for the key points its question already gives away.
    """
    pieces = units(text)
    if pieces and question:
        q = emb.matrix([question])[0]
        pieces = [
            p for p, v in zip(pieces, emb.matrix(pieces)) if float(v @ q) < COPY_THRESHOLD and not restates(p, question)
        ]
    if not points or not pieces:
        return np.zeros(len(points))
    return (emb.matrix(points) @ emb.matrix(pieces).T).max(axis=1)


def pair_similarity(pairs: list[tuple[str, str]]) -> np.ndarray:
    """Cosine similarity of each (key point, sentence) pair."""
    emb = Embeddings([t for pair in pairs for t in pair])
    a, b = emb.matrix([p[0] for p in pairs]), emb.matrix([p[1] for p in pairs])
    return (a * b).sum(axis=1)


def calibrate(pairs: list[tuple[str, str, bool]]) -> tuple[float, float]:
    """The threshold that best separates matching from non-matching pairs, and its balanced accuracy.

    Candidates are the midpoints between neighbouring similarities; ties go to the threshold closest to
    the middle of the best range.
    """
    sims = pair_similarity([(a, b) for a, b, _ in pairs])
    labels = np.array([m for _, _, m in pairs], dtype=bool)
    ordered = np.sort(sims)
    candidates = np.concatenate([[ordered[0] - 1e-6], (ordered[1:] + ordered[:-1]) / 2, [ordered[-1] + 1e-6]])
    acc = np.array([balanced_accuracy(sims >= t, labels) for t in candidates])
    best = np.flatnonzero(acc == acc.max())
    return float(round((candidates[best[0]] + candidates[best[-1]]) / 2, 3)), float(acc.max())


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    tpr = predicted[labels].mean() if labels.any() else 1.0
    tnr = (~predicted[~labels]).mean() if (~labels).any() else 1.0
    return float((tpr + tnr) / 2)


# --------------------------------------------------------------------------- concepts


# --------------------------------------------------------------------------- one question / the set


def budget(text: str, words: int | None) -> str:
    """The first ``words`` words of ``text`` (all of it for 0 or None)."""
    parts = text.split()
    return " ".join(parts[:words] if words else parts)


def _pick(cands: list[Candidate], recalls: list[float], pick: Pick) -> int:
    if pick == "synthesis":  # a raw report has no synthesis: its one answer
        return next((i for i, c in enumerate(cands) if c.label in ("synthesis", "hypothesis")), 0)
    if pick == "best":
        return int(np.argmax(recalls))
    return 0  # contexts come best first; a bare string is the only candidate


def score_question(
    ref: Reference,
    gen: Generated,
    emb: Embeddings,
    pick: Pick,
    threshold: float,
    judge: Callable[[Reference, str], tuple[int, str]] | None = None,
    words: int | None = WORD_BUDGET,
    variant: str | None = None,
) -> QuestionScore:
    points = ref.points()
    ref_concepts = concepts_in(ref.reference_hypothesis)
    point_defect = ref.is_point_defect()
    base = dict(
        id=ref.id, variant=variant, concepts=sorted(set(ref_concepts.values())), point_defect=point_defect, **_cost(gen)
    )
    cands = [c.model_copy(update={"text": budget(c.text, words)}) for c in gen.candidates()]
    if gen.error is not None or not cands:
        return QuestionScore(
            **base,
            keypoint_recall=0.0,
            key_points_matched=[False] * len(points),
            concept_recall=0.0 if ref_concepts else None,
            evidence=False if point_defect else None,
            error=gen.error or "nothing generated",
        )
    sims = [best_similarity(points, c.text, emb, ref.query) for c in cands]
    recalls = [float((s >= threshold).mean()) for s in sims]
    i = _pick(cands, recalls, pick)
    chosen = cands[i]
    found = concepts_in(chosen.text)
    hits = sorted({ref_concepts[c] for c in ref_concepts if c in found})
    fields = gen.text_fields()
    junk = sum(bool(prose_problems(f, source=ref.query)) for f in fields)
    judged = judge(ref, chosen.text) if judge is not None else None
    return QuestionScore(
        **base,
        scored=chosen.label,
        words=len(chosen.text.split()),
        keypoint_recall=recalls[i],
        key_points_matched=[bool(x) for x in sims[i] >= threshold],
        concept_recall=len(hits) / len(ref_concepts) if ref_concepts else None,
        concepts_found=hits,
        junk_fields=junk,
        text_fields=len(fields),
        evidence=gen.has_evidence() if point_defect else None,
        review_recall=[(c.review_score, r) for c, r in zip(cands, recalls) if c.review_score is not None],
        judge_score=judged[0] if judged else None,
        judge_reason=judged[1] if judged else None,
    )


def _cost(gen: Generated) -> dict:
    run = gen.report.run if gen.report is not None else None
    if run is None or run.cached:
        return {}
    return {"seconds": run.seconds, "llm_calls": run.llm_calls + run.cache_hits}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def spearman(pairs: list[tuple[float, float]]) -> float | None:
    """Spearman's rho of the pairs; None with fewer than 3 pairs or a constant side."""
    if len(pairs) < 3:
        return None
    x, y = np.array(pairs, dtype=float).T
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    from scipy.stats import spearmanr

    return round(float(spearmanr(x, y).statistic), 4)


def aggregate(
    per_question: list[QuestionScore],
    *,
    pick: Pick = "top",
    threshold: float = KEYPOINT_THRESHOLD,
    missing: list[str] | None = None,
    words: int | None = WORD_BUDGET,
    variant: str | None = None,
) -> EvalScores:
    fields = sum(q.text_fields for q in per_question)
    evidence = [q.evidence for q in per_question if q.point_defect and q.error is None and q.evidence is not None]
    return EvalScores(
        n=len(per_question),
        keypoint_recall=_mean(q.keypoint_recall for q in per_question),
        concept_recall=_mean(q.concept_recall for q in per_question),
        junk_rate=round(sum(q.junk_fields for q in per_question) / fields, 4) if fields else None,
        evidence_coverage=_mean(float(e) for e in evidence),
        score_recall_spearman=spearman([p for q in per_question for p in q.review_recall]),
        judge_score=_mean(q.judge_score for q in per_question),
        words_scored=_mean(q.words for q in per_question if q.error is None),
        seconds_per_report=_mean(q.seconds for q in per_question),
        calls_per_report=_mean(q.llm_calls for q in per_question),
        word_budget=words or None,
        variant=variant,
        pick=pick,
        threshold=threshold,
        failed=sum(q.error is not None for q in per_question),
        missing=list(missing or []),
        per_question=per_question,
    )


def score(
    refs: list[Reference],
    generated: dict[str, Generated],
    *,
    pick: Pick = "top",
    threshold: float = KEYPOINT_THRESHOLD,
    judge: Callable[[Reference, str], tuple[int, str]] | None = None,
    on_question: Callable[[QuestionScore], None] | None = None,
    words: int | None = WORD_BUDGET,
    variant: str | None = None,
) -> EvalScores:
    """Score ``generated`` (by id) against ``refs``, each hypothesis cut to its first ``words`` words (0 or
    None: whole); references without a result are listed as missing."""
    if pick not in PICKS:
        from hypofinder.errors import BadInputError

        raise BadInputError(f"pick must be one of {', '.join(PICKS)}, got {pick!r}")
    pairs = [(r, generated[r.id]) for r in refs if r.id in generated]
    texts = [p for r, _ in pairs for p in r.points()]
    texts += [u for _, g in pairs for c in g.candidates() for u in units(budget(c.text, words))]
    texts += [r.query for r, _ in pairs]
    emb = Embeddings(texts)
    per_question = []
    for ref, gen in pairs:
        q = score_question(ref, gen, emb, pick, threshold, judge, words, variant or gen.variant)
        per_question.append(q)
        if on_question is not None:
            on_question(q)
    variants = {q.variant for q in per_question}
    return aggregate(
        per_question,
        pick=pick,
        threshold=threshold,
        missing=[r.id for r in refs if r.id not in generated],
        words=words,
        variant=variant or (variants.pop() if len(variants) == 1 else None),
    )
