"""The hypothesis pipeline, top to bottom:

    contexts -> plan -> evidence -> ground -> generate -> validate -> appraise -> review
             -> revise (N rounds: revise, validate, appraise, review) -> deduplicate -> tournament -> rank
             -> synthesize -> validate

``plan`` picks, per context, what PhySH says the question is about (hypofinder.ontology.plan): its physical
system, property and 2-3 techniques, given to the generator as [Y1], [P1], [T1]...; the checker asks the
statement to name them and each step a technique. Each review's score is computed from its rubric and
those checks when results are assembled (hypofinder.scoring). How much each step writes, and in what shape,
follows the model's capability profile (hypofinder.profiles).
``evidence`` plans once per question (hypofinder.bridge.planner): for a point-defect question in a host the
predictor knows, the planned requests are predicted once and each context's generator gets them as numbered
facts ([E1], [E2] ...); other questions get no numbers and no defect talk in their prompts.
``ground`` and ``appraise`` act only when the run names a literature library: each context gets its
best passages as numbered sources ([S1]...) for the generator, and each hypothesis gets its citations
checked and a novelty against the library (``hypofinder.library``).

``HypothesisFinder(model=..., temperature=..., contexts=...).find(query) -> HypothesisReport``.
Each step is a method named after it; every value passed between steps is a pydantic model. Progress events,
running a step over contexts and the report cache are in hypofinder.steps.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from hypofinder import scoring
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
    Novelty,
    Plan,
    Review,
    ReviewAnswer,
    Source,
    Synthesis,
    SynthesisAnswer,
    Validation,
    ValidationRequest,
)
from hypofinder.ontology.plan import plan_for
from hypofinder.profiles import profile_for
from hypofinder.prompts import (
    PlainHypothesis,
    PlainSynthesis,
    evidence_text,
    grounding_block,
    load_prompt,
    physh_concept,
    plan_block,
    plan_checks,
    plan_claims,
    sources_block,
)
from hypofinder.proofread import ask_checked, subject_words
from hypofinder.provenance import timed
from hypofinder.refine import Refinement
from hypofinder.settings import RunConfig, settings
from hypofinder.steps import Plumbing, Progress, Step, check_query  # noqa: F401 (Progress, check_query: public here)

EVIDENCE_BONUS = tourney.EVIDENCE_BONUS
SOURCES_PER_CONTEXT = 3


class HypothesisFinder(Refinement, Plumbing):
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
        self.profile = profile_for(self.spec.capability, self.config.capability)
        self.n_contexts, self.temperature, self.seed = self.config.contexts, self.config.temperature, self.config.seed
        self.validate_enabled = self.config.validate_claims
        self.rounds, self.tournament_enabled = self.config.refinement(
            self.profile.model_dump(), self.spec.entry.options
        )
        self.cache = AnswerCache(cfg.cache_dir / "llm_cache.sqlite") if self.config.cache else None
        self._modes_path = cfg.cache_dir / "endpoints.json"
        if context_source is None and not self.config.physh_contexts:  # ablation: one generic role, no concept
            from hypofinder.plain import generic_contexts as context_source
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
        if self.config.raw:  # the ablation baseline: one plain call, none of the steps below
            from hypofinder.plain import plain_report

            return plain_report(self, query, on_progress)
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

        with timed(steps, "contexts"):
            notify(Progress(step="contexts", message="searching PhySH"))
            contexts = self.contexts(query)
        labels = [c.concept.label for c in contexts]
        with timed(steps, "plan"):
            notify(Progress(step="plan", message="planning PhySH facts"))
            plans = [plan_for(query, c.concept.label) if self.config.plan else None for c in contexts]
        with timed(steps, "evidence"):
            notify(Progress(step="evidence", message="planning predictor evidence"))
            evidence = self.evidence(query, contexts)
        with timed(steps, "ground"):
            sources = self.ground(query, contexts, notify)
        with timed(steps, "generate"):
            generated = self._each(
                list(zip(contexts, evidence, sources, plans)),
                "generate",
                notify,
                lambda item: self.generate(query, *item),
                labels,
            )
        with timed(steps, "validate"):
            validations = self._each(generated, "validate", notify, self.validate_hypothesis, labels)
        with timed(steps, "appraise"):
            appraisals = [self.appraise(gen, srcs) for gen, srcs in zip(generated, sources)]
        with timed(steps, "review"):
            reviews = self._each(
                list(zip(contexts, generated, validations, evidence)),
                "review",
                notify,
                lambda item: self.review(query, *item),
                labels,
            )
        results = self.assemble(contexts, generated, validations, reviews, evidence, sources, appraisals, plans)
        with timed(steps, "revise"):
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
            with timed(steps, "tournament"):
                notify(Progress(step="tournament", message="comparing hypotheses pairwise"))
                results, merged = self.deduplicate(results)
                tournament = self.tournament(query, results, merged)
        results = self.rank(results, tournament)
        with timed(steps, "synthesize"):
            notify(Progress(step="synthesize", message="synthesizing"))
            synthesis = self.synthesize(query, results, any(e is not None and e.facts for e in evidence))
            if self.validate_enabled:
                synthesis.validation = self._validate(
                    synthesis.validation_request, f"{synthesis.hypothesis} {synthesis.representation}"
                )
        notify(Progress(step="done", message="done"))

        report = HypothesisReport(
            query=query,
            contexts=results,
            synthesis=synthesis,
            tournament=tournament,
            run=self.manifest(usage0, t_start, steps),
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
        self,
        query: str,
        ctx: Context,
        evidence: Evidence | None = None,
        sources: list[Source] | None = None,
        plan: Plan | None = None,
    ) -> Hypothesis:
        from hypofinder.bridge.facts import prompt_block

        concept = physh_concept(ctx.concept.id)
        facts = prompt_block(evidence)
        messages = load_prompt("generator").messages(
            self.profile.name,
            role=ctx.role,
            framework=ctx.framework,
            concept=ctx.concept.label,
            query=query,
            grounding=grounding_block(concept, [c.label for c in ctx.concepts[1:]]),
            plan=plan_block(plan),
            evidence=f"{facts}\n" if facts else "",
            sources=sources_block(sources or []),
        )
        subject = subject_words(query, ctx.concept.label, *(concept.alt_labels if concept else ()))
        schema = self.profile.schema(
            GeneratedHypothesis if facts else PlainHypothesis,
            facts=bool(facts),
            sources=bool(sources),
            subjects=(ctx.concept.label, *(concept.alt_labels[:3] if concept else ())),
            techniques=plan.technique_labels if plan else (),
            claims=plan_claims(plan, evidence),
        )
        answer, flags = ask_checked(
            self.llm,
            messages,
            schema,
            max_tokens=self.profile.max_tokens(600),
            task=f"generate[{ctx.concept.label}]",
            subject=subject,
            on_topic=("statement",),
            named=plan_checks(plan),
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
            self.profile.name,
            query=query,
            role=ctx.role,
            framework=ctx.framework,
            concept=ctx.concept.label,
            statement=gen.statement,
            rationale=gen.rationale,
            steps=" ".join(gen.steps),
            evidence=evidence_text(validation, evidence),
        )
        schema, max_tokens = self.profile.schema(ReviewAnswer), self.profile.max_tokens(300)
        answer, flags = ask_checked(
            self.llm, messages, schema, max_tokens=max_tokens, task=f"review[{ctx.concept.label}]"
        )
        return Review(**dict(answer), quality_flags=flags)

    def assemble(self, contexts, generated, validations, reviews, evidence, sources, appraisals, plans):
        """One result per context, with ids H1, H2, ... in generation order."""
        return [
            ContextResult(
                id=f"H{i}",
                role=ctx.role,
                framework=ctx.framework,
                concepts=ctx.concepts,
                hypothesis=gen,
                review=self.scored(rev, gen, plan, val, flags, nov),
                plan=plan,
                evidence=ev,
                validation=val,
                sources=srcs,
                citation_flags=flags,
                novelty=nov,
            )
            for i, (ctx, gen, val, rev, ev, srcs, (flags, nov), plan) in enumerate(
                zip(contexts, generated, validations, reviews, evidence, sources, appraisals, plans), 1
            )
        ]

    def scored(self, review, gen, plan, validation, citation_flags, novelty) -> Review:
        """The review's score computed from its rubric and what can be checked (hypofinder.scoring)."""
        return scoring.scored(
            review,
            gen,
            plan=plan,
            validation=validation,
            weight=self.profile.model_weight,
            citation_flags=citation_flags,
            novelty=novelty,
        )

    def synthesize(self, query: str, results: list[ContextResult], with_evidence: bool = True) -> Synthesis:
        lines = []
        for i, r in enumerate(results, 1):
            verdict = f", evidence {r.validation.verdict}" if r.validation else ""
            lines.append(
                f"{i}. {r.hypothesis.statement} ({r.role}, {r.concepts[0].label}, score {r.review.score}{verdict})"
            )
        messages = load_prompt("synthesizer").messages(self.profile.name, query=query, hypotheses="\n".join(lines))
        subject = subject_words(query, *(r.concepts[0].label for r in results))
        schema = self.profile.schema(SynthesisAnswer if with_evidence else PlainSynthesis)
        answer, flags = ask_checked(
            self.llm,
            messages,
            schema,
            max_tokens=self.profile.max_tokens(600),
            task="synthesize",
            subject=subject,
            on_topic=("hypothesis",),
        )
        return Synthesis(**dict(answer), quality_flags=flags)

    # ------------------------------------------------------------------ helpers
    def _validate(self, request: ValidationRequest | None, text: str) -> Validation:
        validator = self._validator
        if validator is None:
            from hypofinder.bridge import validate as validator
        return validator(request, text)
