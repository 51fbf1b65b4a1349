"""PhySH ontology room: concept search, role-based contexts and the concept explorer.

    search(query, k=10, facet=None, discipline=None) -> list[ConceptHit]
    contexts_for(query, n=3) -> list[hypofinder.models.Context]
    get_concept(id_or_label) -> Concept
    physh_version() -> str
    build_index(force=False) -> IndexInfo

Data come from ``settings().physh_path``; the Chroma index lives in ``settings().cache_dir / "chroma"``.
The graph, the embedding model and the collection are loaded lazily and kept per process.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from hypofinder.errors import BadInputError
from hypofinder.models import Context
from hypofinder.ontology.models import Concept, ConceptHit, ConceptLink, IndexInfo

__all__ = [
    "Concept",
    "ConceptHit",
    "ConceptLink",
    "IndexInfo",
    "MAX_K",
    "build_index",
    "contexts_for",
    "disciplines",
    "facets",
    "get_concept",
    "physh_version",
    "search",
]

MAX_K = 200


def _engine():
    """The Ontology for the current settings (PhySH file state, rules file state, cache dir)."""
    from hypofinder.ontology import physh, roles
    from hypofinder.ontology.engine import Ontology
    from hypofinder.settings import settings

    graph = physh.load()
    rules = roles.load_rules(graph)
    cache_dir = Path(settings().cache_dir).resolve()
    key = ("engine", id(rules), str(cache_dir))  # rules live in graph.cache, so their id is stable
    if key not in graph.cache:
        graph.cache[key] = Ontology(graph, rules, cache_dir)
    return graph.cache[key]


# ---------------------------------------------------------------------- validation
def _query(query: object) -> str:
    """The question checked against the run configuration's limit (the same as the pipeline's)."""
    from hypofinder.settings import settings

    if not isinstance(query, str):
        raise BadInputError("the question is empty")
    return settings().run.check_query(query)


def _int_in(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInputError(f"{name} must be an integer from {low} to {high} (got {value!r})")
    return value


def _name(kind: str, value: str | None, valid: list[str]) -> str | None:
    if value is None:
        return None
    wanted = " ".join(str(value).split()).lower()
    for v in valid:
        if v.lower() == wanted:
            return v
    names = "; ".join(sorted(valid, key=str.lower))
    raise BadInputError(f"unknown {kind} {value!r} (case does not matter); valid {kind}s: {names}")


def facets() -> list[str]:
    """PhySH facet names (valid ``facet=`` values)."""
    return sorted(_engine().graph.facets)


def disciplines() -> list[str]:
    """PhySH discipline names (valid ``discipline=`` values)."""
    return sorted(_engine().graph.disciplines)


# ---------------------------------------------------------------------- API
def search(query: str, k: int = 10, facet: str | None = None, discipline: str | None = None) -> list[ConceptHit]:
    """The ``k`` PhySH concepts best matching ``query`` (hybrid: embeddings + label match + hierarchy).

    ``facet`` / ``discipline`` (case-insensitive PhySH names) restrict the hits. Deprecated and
    excluded-from-indexing concepts are never returned.
    """
    q = _query(query)
    k = _int_in("k", k, 1, MAX_K)
    eng = _engine()
    f = _name("facet", facet, sorted(eng.graph.facets))
    d = _name("discipline", discipline, sorted(eng.graph.disciplines))
    return eng.search(q, k, f, d)


def contexts_for(query: str, n: int = 3) -> list[Context]:
    """``n`` diverse role-based contexts for ``query``: at most one per framework unless fewer exist.

    Each context has the lead concept first, then up to two supporting concepts from the hits.
    Deterministic for the same query, data and model.
    """
    q = _query(query)
    from hypofinder.settings import RunConfig

    low, high = RunConfig.bounds("contexts")
    n = _int_in("n", n, int(low), int(high))
    return _engine().contexts(q, n)


def get_concept(id_or_label: str) -> Concept:
    """A concept by DOI URI, bare UUID or label / alt label (case-insensitive), deprecated ones included."""
    if not isinstance(id_or_label, str) or not id_or_label.strip():
        raise BadInputError("concept id or label is empty")
    eng = _engine()
    node = eng.graph.lookup(id_or_label)
    if node is None:
        labels = {c.label.lower(): c.label for c in eng.graph.concepts.values()}
        close = difflib.get_close_matches(id_or_label.strip().lower(), list(labels), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(repr(labels[c]) for c in close)}?" if close else ""
        raise BadInputError(f"no PhySH concept with id or label {id_or_label.strip()!r}{hint}")
    return eng.concept(node)


def physh_version() -> str:
    """Version of the loaded PhySH release, e.g. '2.7.0' (from the file, else from its fingerprint)."""
    return _engine().graph.version


def build_index(force: bool = False) -> IndexInfo:
    """Open the Chroma index, building it if missing or stale (``force``: rebuild anyway)."""
    return _engine().index(force=force, refresh=True).info
