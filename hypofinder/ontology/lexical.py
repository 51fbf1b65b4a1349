"""Label matching: which concept labels (pref, alt, hidden) occur as a phrase in a query."""

from __future__ import annotations

import re

from hypofinder.ontology.physh import PhyshGraph

STOP = frozenset(
    """a an the of in on at to for and or with without by from as is are be been being how can i we you it its
    this that these those such like do does should would could will may might into between about which what when
    where why their there than then also well very more most using use via per""".split()
)
_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ings", ""), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


def stem(word: str) -> str:
    """A light suffix stripper: walls -> wall, modeling -> model, properties -> property."""
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def tokens(text: str) -> list[str]:
    words = re.findall(r"[^\W_]+", text.lower())
    return [stem(w) for w in words if w not in STOP and (len(w) > 1 or w.isdigit())]


# Where a question's clauses and noun phrases part: punctuation, conjunctions, relative words, prepositions.
_CLAUSE_BREAK = re.compile(
    r"[,;:.?!()\n]|\b(?:and|or|but|that|which|who|whose|where|when|while|by|with|through|using|via|from|into|"
    r"across|between|in|on|of|for|to|like|as well as|such as)\b",
    re.IGNORECASE,
)


def clauses(text: str, limit: int = 12) -> list[str]:
    """The question's pieces between punctuation, conjunctions and prepositions that hold a content word.

    "linking atomistic and continuum descriptions across length scales" -> ["linking atomistic",
    "continuum descriptions", "length scales"]; at most ``limit``, in order.
    """
    parts = (p.strip() for p in _CLAUSE_BREAK.split(text))
    return [p for p in parts if p and tokens(p)][:limit]


class Lexicon:
    """Every indexable concept's labels as token phrases."""

    def __init__(self, graph: PhyshGraph):
        self.entries: list[tuple[str, str, str]] = []  # (concept id, label, " tok tok ")
        for node in graph.concepts.values():
            if not node.indexable:
                continue
            for lab in node.labels:
                toks = tokens(lab)
                if toks:
                    self.entries.append((node.id, lab, " " + " ".join(toks) + " "))

    def matches(self, query: str, single: float = 0.5) -> dict[str, tuple[float, str]]:
        """Concept id -> (strength, matched label): 1.0 for a multi-word label, ``single`` for one word."""
        q = " " + " ".join(tokens(query)) + " "
        out: dict[str, tuple[float, str]] = {}
        for cid, lab, phrase in self.entries:
            if phrase in q:
                strength = 1.0 if phrase.count(" ") > 2 else single
                if strength > out.get(cid, (0.0, ""))[0]:
                    out[cid] = (strength, lab)
        return out


def lexicon(graph: PhyshGraph) -> Lexicon:
    key = ("lexicon",)
    if key not in graph.cache:
        graph.cache[key] = Lexicon(graph)
    return graph.cache[key]


class Bm25:
    """BM25 (``bm25s``) over the concept documents' lexical texts, tokenized with ``tokens``."""

    def __init__(self, graph: PhyshGraph):
        import bm25s

        from hypofinder.ontology.documents import documents

        docs = documents(graph)
        self.ids = [d.id for d in docs]
        self.retriever = bm25s.BM25()
        self.retriever.index([tokens(d.lexical) or [""] for d in docs], show_progress=False)
        self.vocab = self.retriever.vocab_dict

    def top(self, query: str, n: int) -> list[str]:
        """Concept ids of the ``n`` best-scoring documents (only those sharing a word with the query)."""
        import numpy as np

        toks = [t for t in tokens(query) if t in self.vocab]
        if not toks:
            return []
        scores = self.retriever.get_scores(toks)
        order = np.argsort(-scores, kind="stable")[:n]
        return [self.ids[i] for i in order if scores[i] > 0]


def bm25(graph: PhyshGraph) -> Bm25:
    key = ("bm25",)
    if key not in graph.cache:
        graph.cache[key] = Bm25(graph)
    return graph.cache[key]
