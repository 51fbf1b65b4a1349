"""Concept documents: what a PhySH concept means, written out for the embedder and for BM25.

Each indexable concept gets
- label texts: its label and (up to ``MAX_LABEL_TEXTS`` - 1) alternative or hidden labels, one vector each;
- a description: label, scope note (where PhySH has a usable one), alternative labels, the chain of
  broader concepts, a few narrower and related labels, facet and disciplines, one vector;
- a lexical document for BM25: every label, the broader chain, narrower and related labels, scope note.

``fingerprint(graph)`` hashes ``RECIPE`` and every text, so the index is rebuilt whenever the recipe
or the data behind it changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hypofinder.ontology.physh import Node, PhyshGraph

RECIPE = 2  # bump when the way texts are written changes (the text hash catches it anyway)
MAX_LABEL_TEXTS = 4
BROADER_DEPTH = 3
MAX_BROADER = 5
MAX_NARROWER = 6
MAX_RELATED = 4
MAX_LEXICAL_NARROWER = 20

# Editorial notes left in PhySH's scope notes ("From Ansar", "Should this be decoordinated?"): not meaning.
_EDITORIAL = re.compile(r"^(from |moved from|name may|should |is |i would|this could|not complete|http)", re.IGNORECASE)


@dataclass(frozen=True)
class ConceptTexts:
    id: str
    labels: tuple[str, ...]  # the label first
    description: str
    lexical: str


def scope_note(node: Node) -> str | None:
    """The scope note as a definition ("Use for X" -> "X"), or None for editorial notes."""
    if not node.scope_note:
        return None
    text = re.sub(r"<[^>]*>", " ", node.scope_note)
    text = " ".join(text.split()).strip()
    if not text or _EDITORIAL.match(text) or "?" in text:
        return None
    text = re.sub(r"^use for\s+", "", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


def _unique(labels, skip: set[str] | None = None) -> list[str]:
    seen = set(skip or ())
    out = []
    for lab in labels:
        key = lab.lower()
        if key not in seen:
            seen.add(key)
            out.append(lab)
    return out


def ancestors(graph: PhyshGraph, node: Node, depth: int = BROADER_DEPTH) -> list[str]:
    """Labels of broader concepts, nearest first (breadth-first, facets left out)."""
    out: list[str] = []
    level = [b for b in node.broader if b in graph.concepts]
    seen = {node.id}
    for _ in range(depth):
        nxt = []
        for cid in level:
            if cid in seen:
                continue
            seen.add(cid)
            c = graph.concepts[cid]
            if not c.is_facet:
                out.append(c.label)
            nxt += [b for b in c.broader if b in graph.concepts]
        level = nxt
    return _unique(out)


def _labels_of(graph: PhyshGraph, ids) -> list[str]:
    return sorted(
        (graph.concepts[i].label for i in ids if i in graph.concepts and not graph.concepts[i].deprecated),
        key=str.lower,
    )


def texts_for(graph: PhyshGraph, node: Node) -> ConceptTexts:
    alts = _unique((*node.alt_labels, *node.hidden_labels), skip={node.label.lower()})
    broader = ancestors(graph, node)
    narrower = _labels_of(graph, node.narrower)
    related = _labels_of(graph, node.related)
    note = scope_note(node)
    parts = [node.label + "."]
    if note:
        parts.append(note.rstrip(".") + ".")
    if alts:
        parts.append("Also called " + ", ".join(alts[:4]) + ".")
    if broader:
        parts.append("A topic within " + ", ".join(broader[:MAX_BROADER]) + ".")
    if narrower:
        parts.append("Includes " + ", ".join(narrower[:MAX_NARROWER]) + ".")
    if related:
        parts.append("Related to " + ", ".join(related[:MAX_RELATED]) + ".")
    where = [f for f in node.facets]
    if where or node.disciplines:
        parts.append(
            "; ".join(where) + (" in " if where and node.disciplines else "") + "; ".join(node.disciplines) + "."
        )
    lexical = " ".join(
        [node.label, node.label, *alts, *broader, *narrower[:MAX_LEXICAL_NARROWER], *related, note or ""]
    )
    return ConceptTexts(node.id, (node.label, *alts[: MAX_LABEL_TEXTS - 1]), " ".join(parts), lexical)


def documents(graph: PhyshGraph) -> list[ConceptTexts]:
    """Texts of every indexable concept, sorted by id (cached per graph)."""
    key = ("documents", RECIPE)
    if key not in graph.cache:
        nodes = sorted((c for c in graph.concepts.values() if c.indexable), key=lambda c: c.id)
        graph.cache[key] = [texts_for(graph, c) for c in nodes]
    return graph.cache[key]


def fingerprint(graph: PhyshGraph) -> str:
    """sha256 of the recipe version and every text that goes into the index."""
    key = ("documents-fingerprint", RECIPE)
    if key not in graph.cache:
        h = hashlib.sha256(f"recipe {RECIPE}\n".encode())
        for d in documents(graph):
            h.update("\x1f".join((d.id, *d.labels, d.description, d.lexical)).encode())
            h.update(b"\x1e")
        graph.cache[key] = h.hexdigest()
    return graph.cache[key]
