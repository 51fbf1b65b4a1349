"""PhySH concepts written in a text: exact label / alt label matches (case and plural endings aside).

Every word counts, single letters included, so "d-wave" is found but "C-symmetry" is not found in
"symmetry". Labels that are everyday words of any physics text ("Temperature", "Electrons") say
nothing about a hypothesis and are left out (GENERIC).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from hypofinder.ontology.lexical import stem

MAX_WORDS = 8
GENERIC = frozenset(
    """
atoms charge conductivity cycles electrons energy fluctuations ions leaves materials metals paths patterning
photons pockets rocks spin stress symmetries temperature
""".split()
)
_WORDS = re.compile(r"[^\W_]+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORDS.findall(text.lower()))


class ConceptMatcher:
    """Phrase table of every indexable PhySH concept's labels: word tuple -> {concept id: label}."""

    def __init__(self, graph):
        self.phrases: dict[tuple[str, ...], dict[str, str]] = {}
        for node in graph.concepts.values():
            if not node.indexable or node.label.lower() in GENERIC:
                continue
            for lab in node.labels:
                toks = _tokens(lab)
                if toks and len(toks) <= MAX_WORDS and lab.lower() not in GENERIC:
                    self.phrases.setdefault(toks, {})[node.id] = node.label

    @lru_cache(maxsize=4096)  # noqa: B019 - one matcher per PhySH file, kept for the process anyway
    def find(self, text: str) -> dict[str, str]:
        """Concept id -> preferred label, for every label written in ``text`` (do not modify the result)."""
        toks = _tokens(text)
        out: dict[str, str] = {}
        for i in range(len(toks)):
            for j in range(i + 1, min(i + MAX_WORDS, len(toks)) + 1):
                out.update(self.phrases.get(toks[i:j], {}))
        return out


_LOCK = threading.Lock()


def matcher() -> ConceptMatcher:
    """The matcher of the PhySH file in force (kept with the loaded graph)."""
    from hypofinder.ontology import physh

    graph = physh.load()
    with _LOCK:
        if ("eval-concepts",) not in graph.cache:
            graph.cache[("eval-concepts",)] = ConceptMatcher(graph)
        return graph.cache[("eval-concepts",)]


def concepts_in(text: str) -> dict[str, str]:
    """PhySH concepts whose label or alt label is written in ``text``: id -> label."""
    return matcher().find(text)
