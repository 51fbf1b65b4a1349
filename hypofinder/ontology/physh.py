"""Load the PhySH JSON-LD release into an in-memory graph.

Facets and disciplines are inherited down ``skos:broader`` where a concept does not state
them itself (the nearest stating ancestors win; several parents give the union).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hypofinder.errors import BadInputError

SKOS = "http://www.w3.org/2004/02/skos/core#"
PHYSH = "https://physh.org/rdf/2018/01/01/core#"
DCT = "http://purl.org/dc/terms/"
VERSION_KEYS = (
    "http://www.w3.org/2002/07/owl#versionInfo",
    DCT + "hasVersion",
    "http://schema.org/version",
    "https://schema.org/version",
)
# sha256 of the decompressed JSON-LD of published releases (the file carries no version field).
KNOWN_RELEASES = {
    "91b79ec02f3ed2ba735ff931013388cae2c7b3361206f037e7a7d35049fac429": "2.7.0",
}
DOI_PREFIX = "https://doi.org/10.29172/"


@dataclass(slots=True)
class Node:
    """One PhySH ``skos:Concept`` (a facet is one too) with resolved, inherited facets/disciplines."""

    id: str
    label: str
    alt_labels: tuple[str, ...] = ()
    hidden_labels: tuple[str, ...] = ()
    scope_note: str | None = None
    broader: tuple[str, ...] = ()
    narrower: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    direct_facets: tuple[str, ...] = ()  # facet labels stated on the node
    direct_disciplines: tuple[str, ...] = ()
    facets: tuple[str, ...] = ()  # stated or inherited, sorted
    disciplines: tuple[str, ...] = ()
    facet_weights: tuple[tuple[str, float], ...] = ()  # share of broader paths leading to each facet
    discipline_weights: tuple[tuple[str, float], ...] = ()
    deprecated: bool = False
    exclude_from_indexing: bool = False
    is_facet: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label, *self.alt_labels, *self.hidden_labels)

    @property
    def indexable(self) -> bool:
        """May be offered as a search hit / context."""
        return not (self.deprecated or self.exclude_from_indexing or self.is_facet)


@dataclass(slots=True)
class Group:
    """A facet or a discipline."""

    id: str
    label: str
    deprecated: bool = False
    parent: str | None = None  # facets: the broader facet label (Techniques)
    description: str | None = None
    whole_taxonomy: bool = False  # the scheme whose top concepts are the facets: holds every concept


@dataclass
class PhyshGraph:
    path: Path
    sha256: str  # of the decompressed JSON-LD
    version: str
    concepts: dict[str, Node]  # every skos:Concept, facets included, by id
    facets: dict[str, Group]  # by label
    disciplines: dict[str, Group]  # by label
    _by_label: dict[str, str] = field(default_factory=dict, repr=False)
    cache: dict = field(default_factory=dict, repr=False)  # per-graph derived data (rules, lexicon)

    def lookup(self, id_or_label: str) -> Node | None:
        """Find a concept by DOI URI, bare UUID, '10.29172/<uuid>' or any of its labels (case-insensitive)."""
        key = id_or_label.strip()
        for cand in (key, DOI_PREFIX + key, "https://doi.org/" + key):
            if cand in self.concepts:
                return self.concepts[cand]
        found = self._by_label.get(_norm(key))
        return self.concepts[found] if found else None

    def label_of(self, cid: str) -> str:
        return self.concepts[cid].label

    def in_discipline(self, node: Node, discipline: str) -> bool:
        group = self.disciplines.get(discipline)
        return bool(group and group.whole_taxonomy) or discipline in node.disciplines

    def facet_closure(self, node: Node) -> set[str]:
        """The node's facets plus their parent facets (Computational Techniques -> Techniques)."""
        out = set(node.facets)
        for f in node.facets:
            parent = self.facets[f].parent if f in self.facets else None
            if parent:
                out.add(parent)
        return out


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _vals(node: dict, key: str) -> list[str]:
    return [v["@value"] for v in node.get(key, []) if "@value" in v]


def _ids(node: dict, key: str) -> list[str]:
    return [v["@id"] for v in node.get(key, []) if "@id" in v]


def _true(node: dict, key: str) -> bool:
    return any(v.get("@value") in (True, "true", "1", 1) for v in node.get(key, []))


def _label(node: dict) -> str:
    vals = _vals(node, SKOS + "prefLabel") or _vals(node, PHYSH + "prefLabel") or _vals(node, DCT + "title")
    return vals[0] if vals else node["@id"]


def _version(nodes: list[dict], digest: str) -> str:
    for node in nodes:
        for key in VERSION_KEYS:
            vals = _vals(node, key)
            if vals:
                return str(vals[0])
    return KNOWN_RELEASES.get(digest, f"unknown (sha256 {digest[:12]})")


def _inherit(concepts: dict[str, Node], attr: str) -> dict[str, dict[str, float]]:
    """Nearest stated values of ``attr`` up the broader hierarchy, as weights summing to 1.

    A concept stating values splits its weight evenly over them; one that does not averages
    its parents' weights, so the values most of its broader paths lead to weigh most.
    """
    memo: dict[str, dict[str, float]] = {}

    def walk(cid: str, path: frozenset[str]) -> dict[str, float]:
        if cid in memo:
            return memo[cid]
        node = concepts[cid]
        stated = getattr(node, attr)
        out: dict[str, float] = {}
        if stated:
            out = {v: 1.0 / len(stated) for v in stated}
        else:
            parents = [walk(b, path | {cid}) for b in node.broader if b in concepts and b not in path]
            parents = [p for p in parents if p]
            for p in parents:
                for v, w in p.items():
                    out[v] = out.get(v, 0.0) + w / len(parents)
        memo[cid] = out
        return out

    return {cid: walk(cid, frozenset()) for cid in concepts}


def parse(raw: bytes, path: Path) -> PhyshGraph:
    """Build the graph from the decompressed JSON-LD bytes."""
    try:
        nodes = json.loads(raw)
    except ValueError as exc:
        raise BadInputError(f"PhySH file is not valid JSON-LD: {path} ({exc.msg})") from None
    if isinstance(nodes, dict):
        nodes = nodes.get("@graph", [])
    digest = hashlib.sha256(raw).hexdigest()
    by_id = {n["@id"]: n for n in nodes if isinstance(n, dict) and "@id" in n}

    def types(n: dict) -> list[str]:
        t = n.get("@type", [])
        return t if isinstance(t, list) else [t]

    facets: dict[str, Group] = {}
    disciplines: dict[str, Group] = {}
    facet_label: dict[str, str] = {}
    disc_label: dict[str, str] = {}
    for n in nodes:
        if PHYSH + "Facet" in types(n):
            facet_label[n["@id"]] = _label(n)
        if PHYSH + "Discipline" in types(n):
            disc_label[n["@id"]] = _label(n)
    for fid, flabel in facet_label.items():
        n = by_id[fid]
        parents = [facet_label[b] for b in _ids(n, SKOS + "broader") if b in facet_label]
        facets[flabel] = Group(fid, flabel, _true(n, PHYSH + "deprecated"), parents[0] if parents else None)
    for did, dlabel in disc_label.items():
        n = by_id[did]
        desc = _vals(n, DCT + "description")
        disciplines[dlabel] = Group(
            did, dlabel, _true(n, PHYSH + "deprecated"), None, desc[0] if desc else None, SKOS + "hasTopConcept" in n
        )

    concepts: dict[str, Node] = {}
    for n in nodes:
        if SKOS + "Concept" not in types(n):
            continue
        cid = n["@id"]
        is_facet = cid in facet_label
        notes = _vals(n, SKOS + "scopeNote")
        direct_f = [facet_label[f] for f in _ids(n, PHYSH + "inFacet") if f in facet_label]
        if is_facet:  # a facet sits in itself
            direct_f = [facet_label[cid]]
        concepts[cid] = Node(
            id=cid,
            label=_label(n),
            alt_labels=tuple(_vals(n, SKOS + "altLabel")),
            hidden_labels=tuple(_vals(n, SKOS + "hiddenLabel")),
            scope_note=" ".join(notes) if notes else None,
            broader=tuple(_ids(n, SKOS + "broader")),
            narrower=tuple(_ids(n, SKOS + "narrower")),
            related=tuple(_ids(n, SKOS + "related")),
            direct_facets=tuple(sorted(set(direct_f))),
            direct_disciplines=tuple(
                sorted({disc_label[d] for d in _ids(n, PHYSH + "inDiscipline") if d in disc_label})
            ),
            deprecated=_true(n, PHYSH + "deprecated"),
            exclude_from_indexing=_true(n, PHYSH + "excludeFromIndexing"),
            is_facet=is_facet,
        )
    # skos:narrower is sometimes given only on one side: make the hierarchy symmetric.
    extra_narrow: dict[str, set[str]] = {}
    for c in concepts.values():
        for b in c.broader:
            if b in concepts and c.id not in concepts[b].narrower:
                extra_narrow.setdefault(b, set()).add(c.id)
    for b, kids in extra_narrow.items():
        concepts[b].narrower = concepts[b].narrower + tuple(sorted(kids))
    for c in list(concepts.values()):
        for k in c.narrower:
            if k in concepts and c.id not in concepts[k].broader:
                concepts[k].broader = concepts[k].broader + (c.id,)

    inh_f = _inherit(concepts, "direct_facets")
    inh_d = _inherit(concepts, "direct_disciplines")
    for cid, c in concepts.items():
        c.facet_weights = tuple(sorted(inh_f[cid].items()))
        c.discipline_weights = tuple(sorted(inh_d[cid].items()))
        c.facets = tuple(v for v, _ in c.facet_weights)
        c.disciplines = tuple(v for v, _ in c.discipline_weights)

    by_label: dict[str, str] = {}
    for c in sorted(concepts.values(), key=lambda c: (c.deprecated, c.id)):  # prefLabels win over alt labels
        by_label.setdefault(_norm(c.label), c.id)
    for c in sorted(concepts.values(), key=lambda c: (c.deprecated, c.id)):
        for lab in (*c.alt_labels, *c.hidden_labels):
            by_label.setdefault(_norm(lab), c.id)
    return PhyshGraph(path, digest, _version(nodes, digest), concepts, facets, disciplines, by_label)


def read_bytes(path: Path) -> bytes:
    """The decompressed JSON-LD (plain .json accepted too)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise BadInputError(f"PhySH file is not a readable gzip file: {path} ({exc})") from None
    return data


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> PhyshGraph:
    p = Path(path)
    return parse(read_bytes(p), p)


def load(path: Path | None = None) -> PhyshGraph:
    """The PhySH graph at ``path`` (default ``settings().physh_path``), cached per process per file state."""
    from hypofinder.settings import settings

    p = Path(path) if path else settings().physh_path
    settings().require(p, "PhySH file")
    st = p.stat()
    return _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)
