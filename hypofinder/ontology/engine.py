"""Hybrid concept retrieval and role-based contexts over one PhySH graph and its Chroma index.

Score of a concept = cosine(query, label)            (the query and, for several sentences, the mean
                                                       of whole-query and best-sentence cosines)
                   + W_HIER * max(0, best broader/narrower neighbour's cosine - HIER_FLOOR)
                   + W_LABEL * label match (1 for a multi-word label found in the query, 0.5 for one word)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hypofinder.models import Context
from hypofinder.ontology import index as index_mod
from hypofinder.ontology.lexical import lexicon, sentences
from hypofinder.ontology.models import Concept, ConceptHit, ConceptLink
from hypofinder.ontology.physh import Node, PhyshGraph
from hypofinder.ontology.roles import RoleRules

W_LABEL = 0.2
W_HIER = 0.1
HIER_FLOOR = 0.3
POOL = 150  # candidates taken from Chroma per query vector
SUPPORT = 2  # supporting concepts per context


@dataclass(frozen=True)
class Options:
    """Which parts of the hybrid score are on (the benchmark switches them off one by one)."""

    sentences: bool = True
    labels: bool = True
    hierarchy: bool = True


HYBRID = Options()
EMBEDDING_ONLY = Options(sentences=False, labels=False, hierarchy=False)


class Ontology:
    """PhySH graph + role rules + (lazily opened) Chroma index."""

    def __init__(self, graph: PhyshGraph, rules: RoleRules, cache_dir: Path):
        self.graph = graph
        self.rules = rules
        self.cache_dir = Path(cache_dir)
        self._index: index_mod.ConceptIndex | None = None
        self._lock = threading.Lock()

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

    def _where(self, facet: str | None, discipline: str | None) -> dict | None:
        conds = []
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
        """Candidates (``pool`` per query vector) as (score, node, matched label), best first (ties: label, id)."""
        idx = self.index()
        texts = [query]
        if options.sentences:
            parts = sentences(query)
            if len(parts) > 1:
                texts += parts
        vecs = index_mod.encode(texts)
        ids, embs = idx.query(vecs, pool, self._where(facet, discipline))
        matches: dict[str, tuple[float, str]] = {}
        if options.labels:
            matches = {
                cid: m
                for cid, m in lexicon(self.graph).matches(query).items()
                if self._allowed(self.graph.concepts[cid], facet, discipline)
            }
            have = set(ids)
            missing = [cid for cid in sorted(matches) if cid not in have]
            if missing:
                more_ids, more_embs = idx.embeddings(missing)
                ids, embs = ids + more_ids, np.vstack([embs, more_embs]) if len(ids) else more_embs
        if not ids:
            return []
        cos = embs @ vecs.T
        base = cos[:, 0] if cos.shape[1] == 1 else 0.5 * cos[:, 0] + 0.5 * cos[:, 1:].max(axis=1)
        score = base.copy()
        if options.hierarchy:
            pos = {cid: i for i, cid in enumerate(ids)}
            for i, cid in enumerate(ids):
                node = self.graph.concepts[cid]
                near = [base[pos[n]] for n in (*node.broader, *node.narrower) if n in pos]
                if near:
                    score[i] += W_HIER * max(0.0, max(near) - HIER_FLOOR)
        out = []
        for i, cid in enumerate(ids):
            m = matches.get(cid)
            s = float(score[i]) + (W_LABEL * m[0] if m else 0.0)
            out.append((s, self.graph.concepts[cid], m[1] if m else None))
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

    def _support(self, lead: ConceptHit, same_fw: list[ConceptHit], hits: list[ConceptHit], used: set[str]) -> list[ConceptHit]:
        """Next hits of the lead's framework, then hits next to it in the hierarchy."""
        out = [h for h in same_fw if h.id not in used][:SUPPORT]
        if len(out) < SUPPORT:
            node = self.graph.concepts[lead.id]
            near = set(node.broader) | set(node.narrower) | set(node.related)
            out += [h for h in hits if h.id in near and h.id not in used and h not in out][: SUPPORT - len(out)]
        return out

