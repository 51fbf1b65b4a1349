"""The refinement steps of the pipeline: critique-and-revise rounds, de-duplication, the pairwise tournament
and the final ranking (the math is in ``hypofinder.tournament``). ``HypothesisFinder`` mixes them in; its
``find`` calls them in order, after review."""

from __future__ import annotations

from hypofinder import tournament as tourney
from hypofinder.models import Context, ContextResult, Hypothesis, Merge, Revision, Tournament
from hypofinder.prompts import (
    JudgeAnswer,
    PlainRevisedHypothesis,
    RevisedHypothesis,
    evidence_text,
    judge_text,
    load_prompt,
    plan_block,
    plan_checks,
    plan_claims,
)
from hypofinder.proofread import ask_checked, subject_words
from hypofinder.settings import settings


class Refinement:
    """Steps after review; uses the finder's ``llm``, ``profile``, ``seed``, ``validate_hypothesis``, ``appraise``, ``review``
    and ``_map``."""

    def revise(self, query: str, r: ContextResult) -> ContextResult:
        """The context's own role revises its hypothesis after the critique and the evidence; reviewed again."""
        h = r.hypothesis
        messages = load_prompt("reviser").messages(
            self.profile.name,
            role=r.role,
            framework=r.framework,
            concept=r.concepts[0].label,
            query=query,
            statement=h.statement,
            rationale=h.rationale,
            steps="; ".join(h.steps),
            score=str(r.review.score),
            critique=r.review.text,
            evidence=evidence_text(r.validation, r.evidence),
            plan=plan_block(r.plan),
        )
        facts = r.evidence is not None and bool(r.evidence.facts)
        schema = self.profile.schema(
            RevisedHypothesis if facts else PlainRevisedHypothesis,
            facts=facts,
            sources=bool(r.sources),
            subjects=(r.concepts[0].label,),
            techniques=r.plan.technique_labels if r.plan else (),
            claims=plan_claims(r.plan, r.evidence),
        )
        subject = subject_words(query, r.concepts[0].label)
        answer, flags = ask_checked(
            self.llm,
            messages,
            schema,
            max_tokens=self.profile.max_tokens(600),
            task=f"revise[{r.concepts[0].label}]",
            subject=subject,
            on_topic=("statement",),
            named=plan_checks(r.plan),
        )
        gen = Hypothesis(**dict(answer), quality_flags=flags)
        validation = self.validate_hypothesis(gen)
        citation_flags, novelty = self.appraise(gen, r.sources)
        ctx = Context(role=r.role, framework=r.framework, concepts=r.concepts)
        review = self.scored(self.review(query, ctx, gen, validation, r.evidence), gen, r.plan, validation,
                             citation_flags, novelty)  # fmt: skip
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
        shown = {r.id: judge_text(r) for r in results}

        def judge(first: str, second: str) -> JudgeAnswer:
            messages = load_prompt("judge").messages(query=query, first=shown[first], second=shown[second])
            schema = self.profile.schema(JudgeAnswer)
            return self.llm.ask(
                messages, schema, max_tokens=self.profile.max_tokens(120), task=f"judge[{first} vs {second}]"
            )

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


def _verdict(r: ContextResult):
    return r.validation.verdict if r.validation else None


def embed_texts(texts: list[str]):
    """Unit-length sentence embeddings (all-MiniLM-L6-v2, as the ontology room loads it) for de-duplication."""
    from hypofinder.ontology.index import encode

    return encode(texts, settings().cache_dir)
