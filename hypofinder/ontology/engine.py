"""Hybrid concept retrieval and role-based contexts over one PhySH graph and its Chroma index.

Dense similarity of a concept to one query vector
    = (1 - W_DOC) * max(cosine to its label, cosine to its alternative labels) + W_DOC * cosine to its description
and over the question: the whole question's similarity, or for a long question (CLAUSE_MIN_WORDS) with
several clauses or noun phrases (``lexical.clauses``) a rank fusion of the whole question's and, weighing W_CLAUSE each, every clause's
(``combine_clauses``). Then
    score = dense + W_HIER * max(0, best broader/narrower neighbour's dense - HIER_FLOOR)
                  + W_LABEL * label match (a label found word for word in the question)
With ``lexical`` on, the final order fuses that ranking with BM25 over the concept documents by
reciprocal rank (RRF_K), BM25 weighing W_LEX.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hypofinder.models import Context
from hypofinder.ontology import index as index_mod
from hypofinder.ontology.lexical import bm25, clauses, lexicon, tokens
from hypofinder.ontology.models import Concept, ConceptHit, ConceptLink
from hypofinder.ontology.physh import Node, PhyshGraph
from hypofinder.ontology.roles import RoleRules

W_LABEL = 0.2
W_DOC = 0.2
CLAUSE_K = 60
W_CLAUSE = 0.3  # tuned on the tuning half of the labelled questions
CLAUSE_MIN_WORDS = 20  # a shorter question is one idea: its pieces alone pull towards single words
W_HIER = 0.3
HIER_FLOOR = 0.3
W_LEX = 0.3
RRF_K = 60
POOL = 150  # Chroma entries taken per query vector
LEX_POOL = 50  # BM25 candidates
SUPPORT = 2  # supporting concepts per context


@dataclass(frozen=True)
class Options:
    """Which parts of the hybrid score are on (the benchmark switches them one by one)."""

    clauses: bool = True  # score the question's clauses / noun phrases separately too
    labels: bool = True  # boost labels found word for word
    hierarchy: bool = True  # boost from broader/narrower neighbours
    alt_labels: bool = True  # alternative-label vectors
    documents: bool = True  # description vectors
    lexical: bool = False  # BM25 over concept documents, fused by rank
    w_hier: float = W_HIER
    w_doc: float = W_DOC


HYBRID = Options()
LABEL_ONLY = Options(alt_labels=False, documents=False, w_hier=0.1)  # the label-only index (before documents)
EMBEDDING_ONLY = Options(clauses=False, labels=False, hierarchy=False, alt_labels=False, documents=False)


def combine_clauses(sim: np.ndarray, k: int = CLAUSE_K, w_clause: float = W_CLAUSE) -> np.ndarray:
    """One similarity per concept from columns (whole question, then each clause).

    One column: itself. Several: each column ranks the concepts as a query of its own and the ranks
    are fused (reciprocal rank, constant ``k``; the whole question weighs 1, each clause ``w_clause``),
    so a concept that one clause asks for comes up even when the whole question is about more;
    scaled by the best cosine to the whole question (a concept first for it alone gets about that).
    """
    if sim.shape[1] == 1:
        return sim[:, 0]
    fused = np.zeros(sim.shape[0])
    for j in range(sim.shape[1]):
        ranks = np.empty(sim.shape[0])
        ranks[np.argsort(-sim[:, j], kind="stable")] = np.arange(sim.shape[0])
        fused += (1.0 if j == 0 else w_clause) / (k + 1 + ranks)
    return (fused * (k + 1) * float(sim[:, 0].max())).astype(np.float32)


class Ontology:
    """PhySH graph + role rules + (lazily opened) Chroma index."""

    def __init__(self, graph: PhyshGraph, rules: RoleRules, cache_dir: Path):
        self.graph = graph
        self.rules = rules
        self.cache_dir = Path(cache_dir)
        self._index: index_mod.ConceptIndex | None = None
        self._lock = threading.Lock()
        # one dense query at a time: concurrent filtered Chroma queries from mining's threads (contexts and the
        # plan's facet searches) gave other concepts now and then (the Ray-vs-local mining test)
        self._query_lock = threading.Lock()

    # ------------------------------------------------------------------ index
    def index(self, force: bool = False, refresh: bool = False, log=index_mod._stderr) -> index_mod.ConceptIndex:
        """The opened index (``refresh``: check the store again; ``force``: rebuild)."""
        with self._lock:
            if self._index is None or force or refresh:
                self._index = index_mod.open_index(self.graph, self.cache_dir, force=force, log=log)
            return self._index

    # ------------------------------------------------------------------ concepts
    def concept(self, node: Node) -> Concept:
        a = self.rules.assign(node)
        links = lambda ids: [ConceptLink(id=i, label=self.graph.label_of(i)) for i in ids if i in self.graph.concepts]  # noqa: E731
        return Concept(
            id=node.id,
            label=node.label,
            alt_labels=list(node.alt_labels),
            hidden_labels=list(node.hidden_labels),
            scope_note=node.scope_note,
            facet=a.facet if a else None,
            facets=list(node.facets),
            discipline=a.discipline if a else None,
            disciplines=list(node.disciplines),
            inherited=not (node.direct_facets or node.direct_disciplines),
            broader=links(node.broader),
            narrower=sorted(links(node.narrower), key=lambda c: c.label.lower()),
            related=sorted(links(node.related), key=lambda c: c.label.lower()),
            role=a.role if a else None,
            framework=a.framework if a else None,
            deprecated=node.deprecated,
            exclude_from_indexing=node.exclude_from_indexing,
            is_facet=node.is_facet,
        )

    def hit(self, node: Node, score: float, matched: str | None = None) -> ConceptHit:
        a = self.rules.assign(node)
        return ConceptHit(
            id=node.id,
            label=node.label,
            facet=a.facet,
            discipline=a.discipline,
            disciplines=list(node.disciplines),
            role=a.role,
            framework=a.framework,
            score=round(float(score), 4),
            broader=[self.graph.label_of(b) for b in node.broader if b in self.graph.concepts],
            narrower=sorted(self.graph.label_of(n) for n in node.narrower if n in self.graph.concepts),
            matched=matched,
        )

    # ------------------------------------------------------------------ search
    def _allowed(self, node: Node, facet: str | None, discipline: str | None) -> bool:
        if not node.indexable:
            return False
        if facet and facet not in self.graph.facet_closure(node):
            return False
        return not discipline or self.graph.in_discipline(node, discipline)

    def _where(self, facet: str | None, discipline: str | None, options: Options = HYBRID) -> dict | None:
        kinds = ["label", *(["alt"] if options.alt_labels else []), *(["desc"] if options.documents else [])]
        conds: list[dict] = [] if len(kinds) == 3 else [{"kind": {"$in": kinds}}]
        if facet:
            conds.append({index_mod.slug("f", facet): True})
        if discipline and not self.graph.disciplines[discipline].whole_taxonomy:
            conds.append({index_mod.slug("d", discipline): True})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    def scored(
        self,
        query: str,
        facet: str | None = None,
        discipline: str | None = None,
        options: Options = HYBRID,
        pool: int = POOL,
    ) -> list[tuple[float, Node, str | None]]:
        """Candidates as (score, node, matched label), best first (ties: label, id)."""
        idx = self.index()
        texts = [query]
        if options.clauses and len(query.split()) >= CLAUSE_MIN_WORDS:
            parts = clauses(query)
            if len(parts) > 1:
                texts += parts
        vectors = idx.encode(texts)
        with self._query_lock:
            dense = idx.query(
                vectors, pool * (1 + options.alt_labels + options.documents), self._where(facet, discipline, options)
            )
        sim = np.maximum(dense.label, dense.alt) if options.alt_labels else dense.label
        if options.documents:
            sim = (1.0 - options.w_doc) * sim + options.w_doc * dense.desc
        base = combine_clauses(sim)
        ids = list(dense.ids)
        allowed = lambda cid: self._allowed(self.graph.concepts[cid], facet, discipline)  # noqa: E731
        matches: dict[str, tuple[float, str]] = {}
        if options.labels:
            matches = {cid: m for cid, m in lexicon(self.graph).matches(query, single=1.0).items() if allowed(cid)}
        lexical = [cid for cid in bm25(self.graph).top(query, LEX_POOL) if allowed(cid)] if options.lexical else []
        pos = {cid: i for i, cid in enumerate(ids)}
        extra = [cid for cid in (*sorted(matches), *lexical) if cid not in pos]
        for cid in extra:  # not among the dense hits: the lowest dense similarity seen
            pos[cid] = len(ids)
            ids.append(cid)
        if extra:
            base = np.concatenate([base, np.full(len(extra), base.min() if len(base) else 0.0, dtype=np.float32)])
        if not ids:
            return []
        score = base.copy()
        if options.hierarchy:
            for i, cid in enumerate(ids):
                node = self.graph.concepts[cid]
                near = [base[pos[n]] for n in (*node.broader, *node.narrower) if n in pos]
                if near:
                    score[i] += options.w_hier * max(0.0, max(near) - HIER_FLOOR)
        for cid, (strength, _) in matches.items():
            score[pos[cid]] += W_LABEL * strength
        if options.lexical:
            order = np.argsort(-score, kind="stable")
            fused = np.zeros(len(ids))
            fused[order] = 1.0 / (RRF_K + 1 + np.arange(len(ids)))
            for rank, cid in enumerate(lexical):
                fused[pos[cid]] += W_LEX / (RRF_K + 1 + rank)
            score = fused * (RRF_K + 1)  # 1.0 for a concept first in the dense order and absent from BM25
        out = [
            (float(score[i]), self.graph.concepts[cid], matches[cid][1] if cid in matches else None)
            for i, cid in enumerate(ids)
        ]
        out.sort(key=lambda t: (-round(t[0], 6), t[1].label.lower(), t[1].id))
        return out

    def search(
        self, query: str, k: int, facet: str | None = None, discipline: str | None = None, options: Options = HYBRID
    ) -> list[ConceptHit]:
        ranked = self.scored(query, facet, discipline, options, pool=max(POOL, k))
        return [self.hit(node, s, m) for s, node, m in ranked[:k]]

    # ------------------------------------------------------------------ contexts
    def contexts(self, query: str, n: int) -> list[Context]:
        """``n`` contexts, one per framework while frameworks last, each led by its best concept."""
        return self.contexts_from_hits(self.search(query, k=max(60, 10 * n)), n)

    def contexts_from_hits(self, hits: list[ConceptHit], n: int) -> list[Context]:
        """Up to ``n`` contexts from best-first ``hits``: one per framework, then repeats when frameworks run out."""
        by_fw: dict[str, list[ConceptHit]] = {}
        for h in hits:
            by_fw.setdefault(h.framework, []).append(h)
        leads = [group[0] for group in by_fw.values()]  # hits are best-first, so leads are too
        used = {h.id for h in leads}
        if len(leads) < n:  # fewer frameworks than asked: second-best concepts of the same frameworks
            for h in hits:
                if len(leads) >= n:
                    break
                if h.id not in used:
                    leads.append(h)
                    used.add(h.id)
        contexts = []
        for lead in sorted(leads[:n], key=lambda h: (-h.score, h.label.lower())):
            support = self._support(lead, by_fw[lead.framework], hits, used)
            used.update(s.id for s in support)
            contexts.append(
                Context(
                    role=lead.role,
                    framework=lead.framework,
                    concepts=[lead.ref(), *(s.ref() for s in support)],
                    score=lead.score,
                )
            )
        return contexts

    def _support(
        self, lead: ConceptHit, same_fw: list[ConceptHit], hits: list[ConceptHit], used: set[str]
    ) -> list[ConceptHit]:
        """Next hits of the lead's framework that add a word of their own, then hits next to it in the hierarchy."""
        out: list[ConceptHit] = []
        words = set(tokens(lead.label))
        for h in same_fw:
            if len(out) >= SUPPORT:
                break
            own = set(tokens(h.label))
            if h.id not in used and not own <= words and not (own & words):
                out.append(h)
                words |= own
        if len(out) < SUPPORT:
            node = self.graph.concepts[lead.id]
            near = set(node.broader) | set(node.narrower) | set(node.related)
            out += [h for h in hits if h.id in near and h.id not in used and h not in out][: SUPPORT - len(out)]
        return out
