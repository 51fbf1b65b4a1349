"""The hypothesis pipeline, top to bottom:

    contexts -> evidence -> ground -> generate -> validate -> appraise -> review
             -> revise (N rounds: revise, validate, appraise, review) -> deduplicate -> tournament -> rank
             -> synthesize -> validate

``evidence`` plans once per question (hypofinder.bridge.planner): for a point-defect question in a host the
predictor knows, the planned requests are predicted once and each context's generator gets them as numbered
facts ([E1], [E2] ...); other questions get no numbers and no defect talk in their prompts.
``ground`` and ``appraise`` act only when the run names a literature library: each context gets its
best passages as numbered sources ([S1]...) for the generator, and each hypothesis gets its citations
checked and a novelty against the library (``hypofinder.library``).

``HypothesisFinder(model=..., temperature=..., contexts=...).find(query) -> HypothesisReport``.
Each step is a method named after it; every value passed between steps is a pydantic model.
"""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, Field

from hypofinder import __version__
from hypofinder import tournament as tourney
from hypofinder.llm.cache import AnswerCache
from hypofinder.llm.registry import resolve
from hypofinder.models import (
    CitationFlag,
    Context,
    ContextResult,
    Evidence,
    GeneratedHypothesis,
    Hypothesis,
    HypothesisReport,
    Merge,
    Novelty,
    Review,
    ReviewAnswer,
    Revision,
    RunManifest,
    Source,
    Synthesis,
    SynthesisAnswer,
    Tournament,
    Validation,
    ValidationRequest,
)
from hypofinder.prompts import (
    JudgeAnswer,
    PlainHypothesis,
    PlainRevisedHypothesis,
    PlainSynthesis,
    RevisedHypothesis,
    grounding_block,
    load_prompt,
    prompt_versions,
)
from hypofinder.proofread import ask_checked, subject_words
from hypofinder.settings import PROJECT_ROOT, RunConfig, settings

EVIDENCE_BONUS = tourney.EVIDENCE_BONUS

Step = Literal[
    "contexts",
    "evidence",
    "ground",
    "generate",
    "validate",
    "appraise",
    "review",
    "revise",
    "tournament",
    "synthesize",
    "done",
]
SOURCES_PER_CONTEXT = 3


class Progress(BaseModel):
    """What the pipeline is doing now (for progress bars and the app)."""

    step: Step
    index: int | None = None
    total: int | None = None
    label: str | None = Field(default=None, description="The context concerned, e.g. its lead concept")
    message: str = ""


def check_query(query: str) -> str:
    """The question normalised, or one clear line (limits from the run configuration in force)."""
    return settings().run.check_query(query)


class HypothesisFinder:
    """Question in, reviewed and evidence-checked hypotheses out."""

    def __init__(
        self,
        model: str | None = None,
        *,
        config: RunConfig | None = None,
        context_source: Callable[[str, int], list[Context]] | None = None,
        validator: Callable[[ValidationRequest | None, str], Validation] | None = None,
        **options: Any,
    ):
        """``config`` (default: the settings' run configuration) overridden by ``model`` and ``options``
        (any RunConfig field: ``contexts=2, temperature=0.3, validate=False, base_url=...``)."""
        cfg = settings()
        self.config = (config or cfg.run).merged(model=model, **options)
        self.spec = resolve(self.config.model, self.config.base_url)
        self.n_contexts, self.temperature, self.seed = self.config.contexts, self.config.temperature, self.config.seed
        self.validate_enabled = self.config.validate_claims
        self.rounds, self.tournament_enabled = self.config.refinement(self.spec.entry.options)
        self.cache = AnswerCache(cfg.cache_dir / "llm_cache.sqlite") if self.config.cache else None
        self._modes_path = cfg.cache_dir / "endpoints.json"
        self._context_source = context_source
        self._validator = validator
        self.library = None
        if self.config.library:  # an unknown name stops here, before any work
            from hypofinder.library import open_library

            self.library = open_library(self.config.library)
        self._custom_parts = context_source is not None or validator is not None

    @functools.cached_property
    def llm(self):
        """The structured chat model, built on first use: a report from the cache needs no LangChain."""
        from hypofinder.llm import StructuredLLM

        chat = self.spec.entry.build(self.spec, self.config)
        return StructuredLLM(
            self.spec,
            chat,
            temperature=self.temperature,
            seed=self.seed,
            cache=self.cache,
            max_retries=self.config.max_retries,
            modes_path=self._modes_path,
        )

    # ------------------------------------------------------------------ the pipeline
    def find(self, query: str, on_progress: Callable[[Progress], None] | None = None) -> HypothesisReport:
        query = self.config.check_query(query)
        notify = on_progress or (lambda p: None)
        if self.library is not None:  # files may have been added since: read the manifest again
            from hypofinder.library import open_library

            self.library = open_library(self.library.name)
        report_key = self._report_key(query)
        cached = self._cached_report(report_key)
        if cached is not None:
            notify(Progress(step="done", message="served from cache"))
            return cached
        t_start, steps = time.perf_counter(), {}
        usage0 = self.llm.usage.model_copy()

        with _timed(steps, "contexts"):
            notify(Progress(step="contexts", message="searching PhySH"))
            contexts = self.contexts(query)
        labels = [c.concept.label for c in contexts]
        with _timed(steps, "evidence"):
            notify(Progress(step="evidence", message="planning predictor evidence"))
            evidence = self.evidence(query, contexts)
        with _timed(steps, "ground"):
            sources = self.ground(query, contexts, notify)
        with _timed(steps, "generate"):
            generated = self._each(
                list(zip(contexts, evidence, sources)),
                "generate",
                notify,
                lambda item: self.generate(query, *item),
                labels,
            )
        with _timed(steps, "validate"):
            validations = self._each(generated, "validate", notify, self.validate_hypothesis, labels)
        with _timed(steps, "appraise"):
            appraisals = [self.appraise(gen, srcs) for gen, srcs in zip(generated, sources)]
        with _timed(steps, "review"):
            reviews = self._each(
                list(zip(contexts, generated, validations, evidence)),
                "review",
                notify,
                lambda item: self.review(query, *item),
                labels,
            )
        results = self.assemble(contexts, generated, validations, reviews, evidence, sources, appraisals)
        with _timed(steps, "revise"):
            for n in range(self.rounds):
                results = self._each(
                    results,
                    "revise",
                    notify,
                    lambda r: self.revise(query, r),
                    [r.concepts[0].label for r in results],
                    round_no=n + 1,
                )
        tournament = None
        if self.tournament_enabled:
            with _timed(steps, "tournament"):
                notify(Progress(step="tournament", message="comparing hypotheses pairwise"))
                results, merged = self.deduplicate(results)
                tournament = self.tournament(query, results, merged)
        results = self.rank(results, tournament)
        with _timed(steps, "synthesize"):
            notify(Progress(step="synthesize", message="synthesizing"))
            synthesis = self.synthesize(query, results, any(e is not None and e.facts for e in evidence))
            if self.validate_enabled:
                synthesis.validation = self._validate(
                    synthesis.validation_request, f"{synthesis.hypothesis} {synthesis.representation}"
                )
        notify(Progress(step="done", message="done"))

        usage = self.llm.usage
        report = HypothesisReport(
            query=query,
            contexts=results,
            synthesis=synthesis,
            tournament=tournament,
            run=RunManifest(
                model=self.spec.name,
                provider=self.spec.provider,
                base_url_host=self.spec.base_url_host,
                temperature=self.temperature,
                seed=self.seed,
                physh_version=_physh_version(),
                hypofinder_version=__version__,
                git_sha=_git_sha(),
                prompt_versions=prompt_versions(),
                prompt_tokens=usage.prompt_tokens - usage0.prompt_tokens,
                completion_tokens=usage.completion_tokens - usage0.completion_tokens,
                llm_calls=usage.llm_calls - usage0.llm_calls,
                cache_hits=usage.cache_hits - usage0.cache_hits,
                seconds=round(time.perf_counter() - t_start, 3),
                step_seconds=steps,
                validate_enabled=self.validate_enabled,
                library=self.library.name if self.library else None,
                rounds=self.rounds,
                tournament_enabled=self.tournament_enabled,
            ),
        )
        self._store_report(report_key, report)
        return report

    # ------------------------------------------------------------------ steps
    def contexts(self, query: str) -> list[Context]:
        if self._context_source is not None:
            return self._context_source(query, self.n_contexts)
        from hypofinder.ontology import contexts_for

        return contexts_for(query, self.n_contexts)

    def evidence(self, query: str, contexts: list[Context]) -> list[Evidence | None]:
        """Planned predictor evidence per context: planned and predicted once per question, the context's
        concept may choose the property; None for every context when validation is off."""
        if not self.validate_enabled:
            return [None] * len(contexts)
        from hypofinder.bridge import evidence_for, for_context

        shared = evidence_for(query)
        return [for_context(shared, c.concept.label) for c in contexts]

    def ground(self, query: str, contexts: list[Context], notify=lambda p: None) -> list[list[Source]]:
        """Each context's best library passages for question + concept (none without a library)."""
        if self.library is None:
            return [[] for _ in contexts]
        from hypofinder.library import sources_for

        notify(Progress(step="ground", message=f"reading library {self.library.name}"))
        return [
            sources_for(self.library, query, " ".join(c.label for c in ctx.concepts), SOURCES_PER_CONTEXT)
            for ctx in contexts
        ]

    def generate(
        self, query: str, ctx: Context, evidence: Evidence | None = None, sources: list[Source] | None = None
    ) -> Hypothesis:
        from hypofinder.bridge.facts import prompt_block

        concept = _physh_concept(ctx.concept.id)
        facts = prompt_block(evidence)
        messages = load_prompt("generator").messages(
            role=ctx.role,
            framework=ctx.framework,
            concept=ctx.concept.label,
            query=query,
            grounding=grounding_block(concept, [c.label for c in ctx.concepts[1:]]),
            evidence=f"{facts}\n" if facts else "",
            sources=_sources_text(sources or []),
        )
        subject = subject_words(query, ctx.concept.label, *(concept.alt_labels if concept else ()))
        schema = GeneratedHypothesis if facts else PlainHypothesis
        answer, flags = ask_checked(
            self.llm,
            messages,
            schema,
            max_tokens=600,
            task=f"generate[{ctx.concept.label}]",
            subject=subject,
            on_topic=("statement",),
        )
        return Hypothesis(**dict(answer), quality_flags=flags)

    def validate_hypothesis(self, gen: Hypothesis) -> Validation | None:
        if not self.validate_enabled:
            return None
        # the whole answer, not just the statement: small models often state the defect claim elsewhere
        return self._validate(gen.validation_request, f"{gen.statement} {gen.rationale} {gen.summary}")

    def appraise(self, gen: Hypothesis, sources: list[Source]) -> tuple[list[CitationFlag], Novelty | None]:
        """Citation flags and novelty of a hypothesis against the library (nothing without one)."""
        if self.library is None:
            return [], None
        from hypofinder.library import check_citations, novelty

        text = " ".join([gen.summary, gen.statement, gen.rationale, *gen.steps])
        return check_citations(text, sources), novelty(self.library, f"{gen.statement} {gen.rationale}")

    def review(
        self, query: str, ctx: Context, gen: Hypothesis, validation: Validation | None, evidence: Evidence | None = None
    ) -> Review:
        messages = load_prompt("reviewer").messages(
            query=query,
            role=ctx.role,
            framework=ctx.framework,
            concept=ctx.concept.label,
            statement=gen.statement,
            rationale=gen.rationale,
            steps=" ".join(gen.steps),
            evidence=_evidence_text(validation, evidence),
        )
        answer, flags = ask_checked(
            self.llm, messages, ReviewAnswer, max_tokens=300, task=f"review[{ctx.concept.label}]"
        )
        return Review(**dict(answer), quality_flags=flags)

    def assemble(self, contexts, generated, validations, reviews, evidence, sources, appraisals) -> list[ContextResult]:
        """One result per context, with ids H1, H2, ... in generation order."""
        return [
            ContextResult(
                id=f"H{i}",
                role=ctx.role,
                framework=ctx.framework,
                concepts=ctx.concepts,
                hypothesis=gen,
                review=rev,
                evidence=ev,
                validation=val,
                sources=srcs,
                citation_flags=flags,
                novelty=nov,
            )
            for i, (ctx, gen, val, rev, ev, srcs, (flags, nov)) in enumerate(
                zip(contexts, generated, validations, reviews, evidence, sources, appraisals), 1
            )
        ]

    def revise(self, query: str, r: ContextResult) -> ContextResult:
        """The context's own role revises its hypothesis after the critique and the evidence; reviewed again."""
        h = r.hypothesis
        messages = load_prompt("reviser").messages(
            role=r.role,
            framework=r.framework,
            concept=r.concepts[0].label,
            query=query,
            statement=h.statement,
            rationale=h.rationale,
            steps="; ".join(h.steps),
            score=str(r.review.score),
            critique=r.review.text,
            evidence=_evidence_text(r.validation, r.evidence),
        )
        schema = RevisedHypothesis if r.evidence is not None and r.evidence.facts else PlainRevisedHypothesis
        subject = subject_words(query, r.concepts[0].label)
        answer, flags = ask_checked(
            self.llm,
            messages,
            schema,
            max_tokens=600,
            task=f"revise[{r.concepts[0].label}]",
            subject=subject,
            on_topic=("statement",),
        )
        gen = Hypothesis(**dict(answer), quality_flags=flags)
        validation = self.validate_hypothesis(gen)
        citation_flags, novelty = self.appraise(gen, r.sources)
        ctx = Context(role=r.role, framework=r.framework, concepts=r.concepts)
        review = self.review(query, ctx, gen, validation, r.evidence)
        earlier = Revision(
            statement=h.statement,
            score=r.review.score,
            critique=r.review.text,
            verdict=r.validation.verdict if r.validation else None,
        )
        return r.model_copy(
            update={
                "hypothesis": gen,
                "review": review,
                "validation": validation,
                "citation_flags": citation_flags,
                "novelty": novelty,
                "revisions": [*r.revisions, earlier],
            }
        )

    def deduplicate(self, results: list[ContextResult]) -> tuple[list[ContextResult], list[Merge]]:
        """Merge near-identical hypotheses (embedding similarity, see hypofinder.tournament) before judging."""
        if len(results) < 2:
            return results, []
        best_first = sorted(results, key=lambda r: -tourney.rank_score(r.review.score, _verdict(r)))
        texts = [r.hypothesis.statement for r in best_first]
        merges = tourney.near_duplicates([r.id for r in best_first], embed_texts(texts), texts=texts)
        by_id = {r.id: r for r in results}
        merges = [
            m.model_copy(update={"statement": by_id[m.id].hypothesis.statement, "role": by_id[m.id].role})
            for m in merges
        ]
        gone = {m.id for m in merges}
        return [r for r in results if r.id not in gone], merges

    def tournament(self, query: str, results: list[ContextResult], merged: list[Merge]) -> Tournament:
        """Pairwise matches, each judged in both orders; Elo with bootstrap uncertainty."""
        shown = {r.id: _judge_text(r) for r in results}

        def judge(first: str, second: str) -> JudgeAnswer:
            messages = load_prompt("judge").messages(query=query, first=shown[first], second=shown[second])
            return self.llm.ask(messages, JudgeAnswer, max_tokens=120, task=f"judge[{first} vs {second}]")

        seed = self.seed or 0
        matches, ratings, pairing, rounds = tourney.run(list(shown), judge, mapper=self._map, seed=seed)
        return Tournament(
            matches=matches,
            ratings=ratings,
            merged=merged,
            k=tourney.ELO_K,
            start=tourney.ELO_START,
            bootstrap=tourney.BOOTSTRAP,
            pairing=pairing,
            rounds=rounds,
            dedup_threshold=tourney.DEDUP_THRESHOLD,
        )

    def rank(self, results: list[ContextResult], tournament: Tournament | None) -> list[ContextResult]:
        """Elo, review score and predictor evidence by one rule (hypofinder.tournament.rank_score); best first,
        ties to the more novel hypothesis (novelty against the library, grounded runs only)."""
        elo = {x.id: x.elo for x in tournament.ratings} if tournament else {}
        ranked = [
            r.model_copy(
                update={
                    "elo": elo.get(r.id),
                    "rank_score": tourney.rank_score(r.review.score, _verdict(r), elo.get(r.id)),
                }
            )
            for r in results
        ]
        return sorted(ranked, key=lambda r: (-r.rank_score, -(r.novelty.score if r.novelty else 0.0)))

    def synthesize(self, query: str, results: list[ContextResult], with_evidence: bool = True) -> Synthesis:
        lines = []
        for i, r in enumerate(results, 1):
            verdict = f", evidence {r.validation.verdict}" if r.validation else ""
            lines.append(
                f"{i}. {r.hypothesis.statement} ({r.role}, {r.concepts[0].label}, score {r.review.score}{verdict})"
            )
        messages = load_prompt("synthesizer").messages(query=query, hypotheses="\n".join(lines))
        subject = subject_words(query, *(r.concepts[0].label for r in results))
        schema = SynthesisAnswer if with_evidence else PlainSynthesis
        answer, flags = ask_checked(
            self.llm, messages, schema, max_tokens=600, task="synthesize", subject=subject, on_topic=("hypothesis",)
        )
        return Synthesis(**dict(answer), quality_flags=flags)

    # ------------------------------------------------------------------ helpers
    def _validate(self, request: ValidationRequest | None, text: str) -> Validation:
        validator = self._validator
        if validator is None:
            from hypofinder.bridge import validate as validator
        return validator(request, text)

    def _each(self, items: list, step: Step, notify, fn, labels: list[str], round_no: int | None = None) -> list:
        """Run fn over items with a progress event each: concurrently for servers, in order otherwise."""
        total = len(items)
        where = f" (round {round_no})" if round_no else ""

        def run(i_item):
            i, item = i_item
            notify(
                Progress(
                    step=step,
                    index=i + 1,
                    total=total,
                    label=labels[i],
                    message=f"{step}{where} {i + 1}/{total}: {labels[i]}",
                )
            )
            return fn(item)

        return self._map(run, list(enumerate(items)))

    def _map(self, fn, items: list) -> list:
        """fn over items, in order: concurrently for servers, one by one for in-process models."""
        if self.spec.is_server and len(items) > 1:
            with ThreadPoolExecutor(max_workers=min(len(items), 8)) as pool:
                return list(pool.map(fn, items))
        return [fn(x) for x in items]

    def _report_key(self, query: str) -> str | None:
        if self.cache is None or self._custom_parts:
            return None
        return AnswerCache.key(
            kind="report",
            query=query,
            model=self.spec.cache_key,
            temperature=self.temperature,
            seed=self.seed,
            contexts=self.n_contexts,
            validate=self.validate_enabled,
            rounds=self.rounds,
            tournament=self.tournament_enabled,
            prompts=prompt_versions(),
            version=__version__,
            inputs=_input_fingerprint(self.validate_enabled),
            **({"library": f"{self.library.name}:{self.library.fingerprint()}"} if self.library else {}),
        )

    def _cached_report(self, key: str | None) -> HypothesisReport | None:
        hit = self.cache.get(key) if key else None
        if hit is None:
            return None
        report = HypothesisReport.model_validate(hit[0])
        report.run = report.run.model_copy(update={"cached": True, "llm_calls": 0, "seconds": 0.0})
        return report

    def _store_report(self, key: str | None, report: HypothesisReport) -> None:
        if key:
            self.cache.put(
                key,
                model=self.spec.cache_key,
                task="report",
                answer=report.model_dump(mode="json"),
                prompt_tokens=report.run.prompt_tokens,
                completion_tokens=report.run.completion_tokens,
            )


def _physh_concept(concept_id: str):
    """The context's lead concept with its PhySH neighbourhood, or None when it is not in PhySH (test doubles)."""
    from hypofinder.errors import HypofinderError
    from hypofinder.ontology import get_concept

    try:
        return get_concept(concept_id)
    except HypofinderError:
        return None


def _sources_text(sources: list[Source]) -> str:
    """The generator's numbered sources block (empty without a library: the prompt is then unchanged)."""
    if not sources:
        return ""
    lines = [f"[S{i}] {s.title}{f' ({s.year})' if s.year else ''}: {s.text}" for i, s in enumerate(sources, 1)]
    return (
        "Sources from the user's library (cite one as [S1], [S2] right after a sentence it supports; "
        "cite nothing it does not say):\n" + "\n".join(lines) + "\n"
    )


def _verdict(r: ContextResult):
    return r.validation.verdict if r.validation else None


def _judge_text(r: ContextResult) -> str:
    verdict = f" Predictor evidence: {r.validation.verdict}." if r.validation else ""
    return f"{r.hypothesis.statement} Rationale: {r.hypothesis.rationale}{verdict}"


def embed_texts(texts: list[str]):
    """Unit-length sentence embeddings (all-MiniLM-L6-v2, as the ontology room loads it) for de-duplication."""
    from hypofinder.ontology.index import encode

    return encode(texts, settings().cache_dir)


def _evidence_text(validation: Validation | None, evidence: Evidence | None = None) -> str:
    """What the reviewer sees: the claim check's verdict with its numbers, then the planned facts ([E1], ...)."""
    claim = _claim_text(validation)
    if evidence is None or not evidence.facts:
        return claim
    return (
        claim
        + ". Planned evidence the generator was given: "
        + " ".join(f"[{fid}] {f.summary}." for fid, f in zip(evidence.fact_ids(), evidence.facts))
    )


def _claim_text(validation: Validation | None) -> str:
    if validation is None:
        return "none (validation off)"
    if not validation.predictions:
        return f"{validation.verdict}: {validation.summary}"
    rows = "; ".join(
        f"{p.label}: gap {p.homo_lumo_gap:.2f}±{p.homo_lumo_gap_std:.2f} eV, "
        f"Ef/site {p.formation_energy_per_site:.2f} eV"
        for p in validation.predictions[:6]
    )
    return f"{validation.verdict}: {validation.summary} ({rows})"


class _timed:
    def __init__(self, store: dict, name: str):
        self.store, self.name = store, name

    def __enter__(self):
        self.t = time.perf_counter()

    def __exit__(self, *exc):
        self.store[self.name] = round(time.perf_counter() - self.t, 3)


def _fingerprint(path) -> str:
    try:
        st = path.stat()
        return f"{st.st_size}:{int(st.st_mtime)}"
    except OSError:
        return "missing"


def _input_fingerprint(with_weights: bool) -> str:
    cfg = settings()
    parts = [_fingerprint(cfg.physh_path), _fingerprint(cfg.rules_dir / "roles.yaml")]
    if with_weights and cfg.models_dir.exists():
        parts += [_fingerprint(p) for p in sorted(cfg.models_dir.iterdir())]
    return "|".join(parts)


@functools.lru_cache(maxsize=1)
def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _physh_version() -> str | None:
    try:
        from hypofinder.ontology import physh_version

        return physh_version()
    except Exception:  # noqa: BLE001 - the manifest must not fail the run
        return None
