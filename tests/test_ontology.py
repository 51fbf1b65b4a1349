"""The PhySH ontology room, on the real PhySH 2.7 file, the real MiniLM model and a real Chroma store.

The index is built once per test session in the session's cache dir (shared with the CLI and other
tests); the fingerprint test builds once more, for a modified PhySH file, in its own temp dir.
"""

from __future__ import annotations

import gzip
import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from hypofinder import ontology
from hypofinder.errors import BadInputError, DataNotFoundError
from hypofinder.ontology import physh, roles
from hypofinder.settings import configure, settings

SEED = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on "
    "material atomic structure as well as higher-level mesoscopic configuration like phase domains and its "
    "walls in a unified holistic way. Such computational model should be able to generalize descriptions "
    "between different scales and help to reason about exhibited properties."
)
SKOS = physh.SKOS
PHYSH = physh.PHYSH


@contextmanager
def using(**overrides):
    """Temporarily point the settings elsewhere (data_dir / cache_dir)."""
    before = {k: getattr(settings(), k) for k in overrides}
    configure(**overrides)
    try:
        yield
    finally:
        configure(**before)


@pytest.fixture(scope="session")
def onto_cache() -> Path:
    """The session's cache dir (tests/conftest.py points HYPOFINDER_CACHE_DIR at a temp folder), so the
    whole suite, the CLI tests included, shares one index build."""
    cache = Path(settings().cache_dir)
    with using(cache_dir=cache):
        ontology.build_index()
    return cache


@pytest.fixture()
def onto(onto_cache):
    with using(cache_dir=onto_cache):
        yield onto_cache


@pytest.fixture(scope="module")
def graph():
    return physh.load()


@pytest.fixture(scope="module")
def raw_nodes():
    return json.loads(physh.read_bytes(settings().physh_path))


# ---------------------------------------------------------------------------- loader


def test_loader_counts(graph):
    assert len(graph.concepts) == 3847  # every skos:Concept, the 9 facets included
    assert len(graph.facets) == 9
    assert len(graph.disciplines) == 19
    assert {"Physical Systems", "Properties", "Research Areas", "Techniques", "Professional Topics"} <= set(
        graph.facets
    )
    assert graph.facets["Computational Techniques"].parent == "Techniques"
    assert sum(c.is_facet for c in graph.concepts.values()) == 9
    assert sum(c.scope_note is not None for c in graph.concepts.values()) == 47
    assert graph.version == ontology.physh_version() == "2.7.0"


def test_every_concept_has_facet_and_discipline(graph):
    plain = [c for c in graph.concepts.values() if not c.is_facet]
    assert all(c.facets for c in plain)
    assert all(c.disciplines for c in plain)
    assert sum(bool(c.direct_facets) for c in plain) < 600  # most are inherited


def test_inheritance_follows_broader(graph, raw_nodes):
    by_id = {n["@id"]: n for n in raw_nodes}
    checked = 0
    for c in graph.concepts.values():
        raw = by_id[c.id]
        if c.is_facet:
            continue
        if PHYSH + "inFacet" in raw:  # stated: exactly what the file says
            stated = {graph.concepts[f["@id"]].label for f in raw[PHYSH + "inFacet"]}
            assert set(c.facets) == stated
        else:  # inherited: the union of the parents' facets
            parents = [graph.concepts[b] for b in c.broader]
            assert parents, c.label
            assert set(c.facets) == set().union(*(p.facets for p in parents)), c.label
            assert set(c.disciplines) == set().union(*(p.disciplines for p in parents)), c.label
            checked += 1
    assert checked > 3000
    anyons = graph.lookup("Anyons")
    assert not anyons.direct_facets and anyons.facets == ("Research Areas",)


def test_several_disciplines(graph):
    multi = graph.lookup("Multiscale modeling")
    assert set(multi.disciplines) == {"Physics of Living Systems", "Polymers & Soft Matter"}
    walls = graph.lookup("Domain walls")  # inherited from parents in different disciplines
    assert not walls.direct_disciplines
    assert {"Condensed Matter, Materials & Applied Physics", "Particles & Fields"} <= set(walls.disciplines)
    c = ontology.get_concept("Domain walls")
    assert c.inherited and c.discipline == "Condensed Matter, Materials & Applied Physics"


def test_version_from_file_field(tmp_path):
    doc = [
        {
            "@id": "x:scheme",
            "@type": [SKOS + "ConceptScheme"],
            "http://www.w3.org/2002/07/owl#versionInfo": [{"@value": "9.9.9"}],
        },
        {"@id": "x:c", "@type": [SKOS + "Concept"], SKOS + "prefLabel": [{"@value": "Thing"}]},
    ]
    g = physh.parse(json.dumps(doc).encode(), tmp_path / "p.json")
    assert g.version == "9.9.9"
    g2 = physh.parse(json.dumps(doc[1:]).encode(), tmp_path / "p.json")
    assert g2.version.startswith("unknown (sha256 ")


# ---------------------------------------------------------------------------- roles


def test_every_live_concept_has_role(graph):
    rules = roles.load_rules(graph)
    assert rules.covered_facets == set(graph.facets)
    assert rules.covered_disciplines == set(graph.disciplines)
    missing = [c.label for c in graph.concepts.values() if not c.deprecated and rules.assign(c) is None]
    assert missing == []
    a = rules.assign(graph.lookup("Multiscale modeling"))
    assert (a.role, a.framework) == ("Computational Physicist", "Computational Physics")
    assert len({rules.assign(c).framework for c in graph.concepts.values() if c.indexable}) >= 19


def test_rules_file_is_checked(graph, tmp_path):
    bad = tmp_path / "roles.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"facet": "Imaginary Techniques", "role": "R", "framework": "F"}]}))
    with pytest.raises(BadInputError, match="unknown facet") as err:
        roles.RoleRules(roles.read_rules(bad), graph, source=str(bad))
    assert "\n" not in str(err.value)
    bad.write_text(yaml.safe_dump({"rules": [{"role": "R", "framework": "F"}]}))
    with pytest.raises(BadInputError, match="facet or a discipline"):
        roles.read_rules(bad)


# ---------------------------------------------------------------------------- search


def test_seed_question_finds_multiscale_modeling(onto):
    hits = ontology.search(SEED, k=10)
    assert len(hits) == 10
    labels = [h.label for h in hits]
    assert "Multiscale modeling" in labels[:3]  # issue 16: top 3
    hit = hits[labels.index("Multiscale modeling")]
    assert (hit.role, hit.framework, hit.facet) == (
        "Computational Physicist",
        "Computational Physics",
        "Computational Techniques",
    )
    assert hit.broader == ["Numerical techniques"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_label_match_and_filters(onto):
    hits = ontology.search("domain walls in ferromagnets", k=5)
    assert hits[0].label == "Domain walls" and hits[0].matched == "Domain walls"
    exp = ontology.search("electron microscopy of thin films", k=15, facet="experimental TECHNIQUES")
    assert exp and all("Experimental Techniques" in ontology.get_concept(h.id).facets for h in exp)
    tech = ontology.search("numerical simulation", k=15, facet="Techniques")  # the parent facet
    assert tech and all(any(f.endswith("Techniques") for f in ontology.get_concept(h.id).facets) for h in tech)
    fluid = ontology.search("numerical simulation", k=15, discipline="fluid dynamics")
    assert fluid and all("Fluid Dynamics" in h.disciplines for h in fluid)
    assert {h.id for h in fluid} != {h.id for h in tech}


def test_deprecated_and_excluded_never_offered(onto, graph):
    hidden = {c.id for c in graph.concepts.values() if not c.indexable}
    for query in (
        "Pathology",
        "Electromagnetism classical field theory",
        "Diseases",
        "Nuclear mass ranges",
        "Charge distributions",
    ):
        hits = ontology.search(query, k=200)
        assert len(hits) == 200
        assert not hidden & {h.id for h in hits}, query
        for ctx in ontology.contexts_for(query, n=5):
            assert not hidden & {c.id for c in ctx.concepts}
    assert ontology.get_concept("Pathology").deprecated  # still visible in the explorer


# ---------------------------------------------------------------------------- contexts


def test_contexts_are_diverse_and_deterministic(onto):
    ctxs = ontology.contexts_for(SEED, n=3)
    assert len(ctxs) == 3
    assert len({c.framework for c in ctxs}) == 3
    assert "Computational Physicist / Computational Physics :: Multiscale modeling" in [c.title for c in ctxs]
    assert [c.score for c in ctxs] == sorted((c.score for c in ctxs), reverse=True)
    hits = {h.id: h for h in ontology.search(SEED, k=60)}
    for c in ctxs:
        assert 1 <= len(c.concepts) <= 3
        assert len({r.id for r in c.concepts}) == len(c.concepts)
        assert hits[c.concept.id].framework == c.framework  # the lead sets the frame
        assert all(r.id in hits for r in c.concepts)  # supporting concepts come from the hits
    assert ontology.contexts_for(SEED, n=3) == ctxs
    ten = ontology.contexts_for(SEED, n=10)
    assert len(ten) == 10 and len({c.framework for c in ten}) == 10
    assert [c.title for c in ten[:3]] == [c.title for c in ctxs]


def test_fewer_frameworks_than_asked(onto):
    # Hits from one facet span few frameworks: then a framework repeats, with another lead concept.
    hits = ontology.search("electron microscopy", k=12, facet="Experimental Techniques")
    frameworks = {h.framework for h in hits}
    assert 1 <= len(frameworks) < 5
    ctxs = ontology._engine().contexts_from_hits(hits, 5)
    assert len(ctxs) == 5
    assert len({c.concept.id for c in ctxs}) == 5
    assert {c.framework for c in ctxs} == frameworks
    assert ctxs[0].concept.id == hits[0].id


# ---------------------------------------------------------------------------- explorer


def test_get_concept_by_id_and_labels(onto, graph):
    c = ontology.get_concept("multiscale MODELING")
    assert c.role == "Computational Physicist" and c.framework == "Computational Physics"
    assert [b.label for b in c.broader] == ["Numerical techniques"]
    uuid = c.id.rsplit("/", 1)[1]
    assert ontology.get_concept(uuid) == ontology.get_concept(c.id) == ontology.get_concept("10.29172/" + uuid) == c
    assert ontology.get_concept("Mossbauer spectroscopy").label == "Mössbauer spectroscopy"  # hidden label
    assert ontology.get_concept("Algebraic structure").label == "Abstract algebra"  # alt label
    algebra = ontology.get_concept("Abstract algebra")
    assert algebra.scope_note and algebra.scope_note.startswith("Use for")
    numerical = ontology.get_concept("Numerical techniques")
    assert "Multiscale modeling" in [n.label for n in numerical.narrower]
    with pytest.raises(BadInputError, match="did you mean 'Multiscale modeling'"):
        ontology.get_concept("Multiscale modelling")


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ontology.search(""), "question is empty"),
        (lambda: ontology.search("   \n "), "question is empty"),
        (lambda: ontology.search("x" * 6000), "too long"),
        (lambda: ontology.search("magnons", k=0), "k must be"),
        (lambda: ontology.search("magnons", k=201), "k must be"),
        (lambda: ontology.search("magnons", k="5"), "k must be"),
        (
            lambda: ontology.search("magnons", facet="Gadgets"),
            "valid facets: Computational Techniques; Experimental Techniques; ",
        ),
        (
            lambda: ontology.search("magnons", discipline="Alchemy"),
            "valid disciplines: Accelerators & Beams; .*Condensed Matter, Materials & Applied Physics; ",
        ),
        (lambda: ontology.contexts_for("magnons", n=0), "n must be"),
        (lambda: ontology.contexts_for("magnons", n=11), "n must be"),
        (lambda: ontology.contexts_for(" "), "question is empty"),
        (lambda: ontology.get_concept(""), "empty"),
        (lambda: ontology.get_concept("zzzz qqqq"), "no PhySH concept"),
    ],
)
def test_bad_input_is_one_line(call, message):
    with pytest.raises(BadInputError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def test_missing_physh_file(tmp_path):
    with using(data_dir=tmp_path / "nowhere"):
        for call in (
            lambda: ontology.search("magnons"),
            ontology.physh_version,
            lambda: ontology.get_concept("Magnons"),
        ):
            with pytest.raises(DataNotFoundError) as err:
                call()
            assert str(tmp_path / "nowhere" / "physh" / "physh.json.gz") in str(err.value)
            assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------- index lifecycle


def test_index_is_reused(onto):
    info = ontology.build_index()
    assert not info.built and info.count == 3828
    assert info.physh_version == "2.7.0" and info.model.endswith("all-MiniLM-L6-v2")
    from hypofinder.ontology import index

    col = index._client(info.path).get_collection(info.collection, embedding_function=None)
    meta = col.metadata
    assert meta["complete"] is True and meta["physh_sha256"] == info.physh_sha256
    assert meta["model_fingerprint"] == index.model_fingerprint()


@pytest.mark.slow
def test_changed_physh_file_rebuilds(onto_cache, tmp_path):
    """A different PhySH file (one label renamed) gets a new collection; the old one is dropped."""
    nodes = json.loads(physh.read_bytes(settings().physh_path))
    target = next(n for n in nodes if n.get(SKOS + "prefLabel", [{}])[0].get("@value") == "Multiscale modeling")
    target[SKOS + "prefLabel"] = [{"@language": "en", "@value": "Quokka whirligig cartography"}]
    data = tmp_path / "data"
    (data / "physh").mkdir(parents=True)
    with gzip.open(data / "physh" / "physh.json.gz", "wt", encoding="utf-8") as fh:
        json.dump(nodes, fh)
    cache = tmp_path / "cache"
    shutil.copytree(onto_cache / "chroma", cache / "chroma")  # starts from the real file's index

    with using(cache_dir=cache):
        old = ontology.build_index()
        assert not old.built
    with using(cache_dir=cache, data_dir=data):
        assert ontology.physh_version().startswith("unknown (sha256 ")
        new = ontology.build_index()
        assert new.built and new.collection != old.collection and new.count == old.count
        again = ontology.build_index()
        assert not again.built and again.collection == new.collection
        hits = ontology.search("quokka whirligig cartography", k=3)
        assert hits[0].id == target["@id"] and hits[0].label == "Quokka whirligig cartography"
        from hypofinder.ontology import index

        names = [getattr(c, "name", c) for c in index._client(new.path).list_collections()]
        assert names == [new.collection]
