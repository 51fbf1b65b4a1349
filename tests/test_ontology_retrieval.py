"""Concept documents, the ONNX embedder, hybrid retrieval and the labelled question set.

Real PhySH 2.7, the real MiniLM weights (exported to ONNX in the session cache) and a real Chroma store,
shared with tests/test_ontology.py through the session cache dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hypofinder import ontology
from hypofinder.ontology import documents, embedder, index, physh
from hypofinder.ontology.engine import HYBRID, W_LEX, Options
from hypofinder.ontology.lexical import clauses
from hypofinder.settings import settings
from tests.test_ontology import SEED

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "benchmarks" / "data" / "ontology_questions.jsonl"
MOS2 = "How do sulfur vacancies change the band gap of monolayer MoS2?"
DEFECTS = {"Vacancies", "Point defects", "Transition metal dichalcogenides"}


@pytest.fixture(scope="module")
def built():
    return ontology.build_index()


@pytest.fixture(scope="module")
def graph():
    return physh.load()


# ---------------------------------------------------------------------------- embedder


def test_onnx_embedder_matches_sentence_transformers(built):
    from sentence_transformers import SentenceTransformer

    texts = [MOS2, "Vacancies", "Multiscale modeling. A topic within Numerical techniques.", "ß-phase Mössbauer " * 80]
    cache = Path(settings().cache_dir)
    onnx = embedder.encoder(cache).encode(texts)
    ref = SentenceTransformer(str(embedder.model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert onnx.shape == (4, 384) and onnx.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert np.abs(onnx - ref).max() < 1e-4  # the long text checks truncation at 256 tokens too
    assert embedder.onnx_path(cache).exists()
    # the concept documents use the int8 copy (questions the fp32 one): same directions, to quantization error
    q8 = index.encode(texts, cache, int8=True)
    assert q8.shape == (4, 384) and q8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q8, axis=1), 1.0, atol=1e-5)
    assert (q8 * ref).sum(axis=1).min() > 0.97
    assert (
        embedder.int8_path(cache).exists()
        and embedder.int8_path(cache).stat().st_size
        < 0.7 * embedder.onnx_path(cache).stat().st_size  # MatMul weights int8
    )


def test_fresh_process_searches_without_torch(built):
    code = (
        "import sys\nfrom hypofinder import ontology\n"
        f"hits = ontology.search({MOS2!r}, k=5)\nctx = ontology.contexts_for({MOS2!r}, n=2)\n"
        "print(hits[0].label, len(ctx), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    env = {**os.environ, "HYPOFINDER_CACHE_DIR": str(settings().cache_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == f"{ontology.search(MOS2, k=5)[0].label} 2 False False", out.stdout + out.stderr


# ---------------------------------------------------------------------------- documents


def test_concept_documents(graph):
    docs = {d.labels[0]: d for d in documents.documents(graph)}
    assert len(docs) == sum(c.indexable for c in graph.concepts.values())
    dft = docs["Density functional theory"]
    assert dft.labels == ("Density functional theory", "DFT")
    assert "quantum mechanical modelling method" in dft.description  # the scope note, "Use for" dropped
    assert "First-principles calculations" in dft.description  # broader
    assert "Density functional calculations" in dft.description  # narrower
    assert "Theoretical Techniques" in dft.description  # facet
    assert "Numerical techniques" in docs["Multiscale modeling"].description
    assert "Ansar" not in docs["Higgs bosons"].description  # editorial scope notes are left out
    assert documents.scope_note(graph.lookup("Topology")) is None


def test_recipe_change_renames_the_collection(graph, monkeypatch):
    before = index.collection_name(graph)
    assert before == index.collection_name(graph)
    monkeypatch.setattr(documents, "MAX_NARROWER", documents.MAX_NARROWER + 1)
    graph.cache.pop(("documents", documents.RECIPE), None)
    graph.cache.pop(("documents-fingerprint", documents.RECIPE), None)
    try:
        assert index.collection_name(graph) != before  # so open_index builds a new one
    finally:
        monkeypatch.undo()
        graph.cache.pop(("documents", documents.RECIPE), None)
        graph.cache.pop(("documents-fingerprint", documents.RECIPE), None)
    assert index.collection_name(graph) == before


def test_quantization_is_part_of_the_recipe(graph, monkeypatch):
    before = index.collection_name(graph)
    monkeypatch.setattr(embedder, "INT8_VERSION", embedder.INT8_VERSION + 1)
    assert index.collection_name(graph) != before


def test_index_holds_several_vectors_per_concept(built):
    assert built.count == 3828 and built.entries > built.count
    col = index._client(built.path).get_collection(built.collection, embedding_function=None)
    mos = ontology.get_concept("Multiscale modeling").id
    got = col.get(where={"concept": mos}, include=["metadatas", "documents"])
    assert sorted(m["kind"] for m in got["metadatas"]) == ["desc", "label"]
    assert "Multiscale modeling" in got["documents"]
    assert col.metadata["recipe_fingerprint"] == index.recipe_fingerprint(physh.load())


# ---------------------------------------------------------------------------- retrieval


def test_sulfur_vacancies_get_defect_contexts(built):
    hits = [h.label for h in ontology.search(MOS2, k=10)]
    assert DEFECTS & set(hits[:5]), hits
    assert hits.index("Vacancies") < hits.index("Surfactant monolayers") if "Surfactant monolayers" in hits else True
    ctxs = ontology.contexts_for(MOS2, n=3)
    assert DEFECTS & {c.label for ctx in ctxs for c in ctx.concepts}
    assert ctxs[0].concept.label != "Surfactant monolayers"


def test_paraphrases_from_the_issue(built):
    for question, label in [
        ("missing atoms in crystals", None),  # measured, still a miss: see the benchmark
        ("coupling between lattice vibrations and electrons", "Electron-phonon coupling"),
        ("spontaneous electric polarization switching in thin oxide layers", "Ferroelectricity"),
    ]:
        hits = [h.label for h in ontology.search(question, k=10)]
        assert len(hits) == 10
        if label:
            assert label in hits, (question, hits)


def test_clauses():
    assert clauses("linking atomistic and continuum descriptions across length scales") == [
        "linking atomistic",
        "continuum descriptions",
        "length scales",
    ]
    assert clauses("How do sulfur vacancies change the band gap of monolayer MoS2?") == [
        "How do sulfur vacancies change the band gap",
        "monolayer MoS2",
    ]
    assert clauses("Vacancies") == ["Vacancies"] and clauses("of the, and") == []


def test_seed_question_reaches_multiscale_modeling_through_its_clauses(built):
    eng = ontology._engine()
    labels = lambda opts: [n.label for _, n, _ in eng.scored(SEED, options=opts)]  # noqa: E731
    assert "Multiscale modeling" in labels(HYBRID)[:3]
    assert "Multiscale modeling" not in labels(Options(clauses=False))[:3]  # the whole question alone misses it


def test_variants_change_the_ranking(built):
    eng = ontology._engine()
    q = "fitting interatomic force fields to quantum-mechanical reference data with neural networks"

    def rank(opts: Options) -> float:
        labels = [n.label for _, n, _ in eng.scored(q, options=opts)]
        return labels.index("Machine learning") if "Machine learning" in labels else float("inf")

    assert rank(HYBRID) < 10 <= rank(Options(documents=False, alt_labels=False))  # found through its description
    fused = eng.scored(q, options=Options(lexical=True))
    assert 1.0 <= fused[0][0] <= 1.0 + W_LEX + 1e-6 and fused[0][0] > fused[-1][0]  # first in both orders: 1 + W_LEX


# ---------------------------------------------------------------------------- the labelled set


def test_labelled_questions_are_valid(graph):
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 60
    assert {r["split"] for r in rows} == {"tune", "heldout"}
    assert sum(r["split"] == "heldout" for r in rows) >= 30
    assert len({r["question"] for r in rows}) == len(rows)
    for r in rows:
        assert r["accept"], r["question"]
        for a in r["accept"]:
            node = graph.concepts.get(a["id"])
            assert node is not None and node.label == a["label"] and node.indexable, a
    areas = {r["area"] for r in rows}
    real = {
        d
        for d in graph.disciplines
        if not graph.disciplines[d].whole_taxonomy
        and any(d in c.disciplines for c in graph.concepts.values() if c.indexable)
    }
    assert real <= areas  # every discipline that holds concepts has questions
