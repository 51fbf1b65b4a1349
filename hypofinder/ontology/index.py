"""The persistent Chroma collection of PhySH concept vectors (all-MiniLM-L6-v2 via ONNX, int8, offline).

Each indexable concept has several vectors, all in one collection: its label and a few alternative
labels (kind ``label``) and its description (kind ``desc``, see ``documents.py``); entry ids are
``<concept id>|<kind><n>`` and every entry carries its concept id and facet/discipline flags.
One collection per (PhySH content, embedding model, document recipe and texts, schema) fingerprint;
it is built once under a file lock and reused by every later process.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hypofinder.errors import HypofinderError
from hypofinder.ontology import documents as docs_mod
from hypofinder.ontology import embedder
from hypofinder.ontology.embedder import MODEL_NAME, model_fingerprint
from hypofinder.ontology.models import IndexInfo
from hypofinder.ontology.physh import PhyshGraph

SCHEMA = 2  # bump when the stored entries or metadata change
PREFIX = "physh-"
LOCK_TIMEOUT_S = 600
BATCH = 2000

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def encode(texts: list[str], cache_dir: Path, threads: int = embedder.QUERY_THREADS, int8: bool = False) -> np.ndarray:
    """Unit-length embeddings (float32, one row per text). The concept documents are embedded by the int8
    encoder (half the build's CPU), questions by the fp32 one: one text costs nothing either way, and the
    fp32 question vector keeps near-ties in the original order ("domain walls in ferromagnets": Domain walls
    first, where int8 on both sides put Ferromagnets first)."""
    return embedder.encoder(cache_dir, threads, int8=int8).encode(list(texts))


def slug(kind: str, name: str) -> str:
    """Chroma metadata key flagging membership, e.g. ``d_condensed_matter_materials_applied_physics``."""
    return kind + "_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def recipe_fingerprint(graph: PhyshGraph) -> str:
    """What the stored vectors depend on besides the PhySH file: model, export, documents, schema."""
    parts = f"{model_fingerprint()}|onnx {embedder.EXPORT_VERSION}|int8 {embedder.INT8_VERSION}|docs {docs_mod.fingerprint(graph)}|schema {SCHEMA}"
    return hashlib.sha256(parts.encode()).hexdigest()


def collection_name(graph: PhyshGraph) -> str:
    return f"{PREFIX}{graph.sha256[:16]}-{recipe_fingerprint(graph)[:8]}"


@lru_cache(maxsize=8)
def _client(path: str):
    embedder.offline()
    import chromadb
    from chromadb.config import Settings

    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


_KINDS = {"label0": "label", "desc": "desc"}  # entry id suffix -> kind; the other suffixes are "alt"


@dataclass
class DenseHits:
    """Cosine similarities of candidate concepts to each query vector (label: best of its label vectors)."""

    ids: list[str]  # candidate concept ids, in first-seen order
    label: np.ndarray  # (len(ids), n_vectors): the preferred label
    alt: np.ndarray  # best alternative / hidden label (the floor when it has none)
    desc: np.ndarray  # the description


@dataclass
class ConceptIndex:
    """An opened, complete collection."""

    collection: object
    info: IndexInfo
    cache_dir: Path

    def encode(self, texts: list[str]) -> np.ndarray:
        return encode(texts, self.cache_dir)

    def query(self, vectors: np.ndarray, n: int, where: dict | None) -> DenseHits:
        """Concepts owning any of the top ``n`` entries for any query vector, with per-kind similarities.

        A similarity the query did not return (the entry ranked below ``n``) is set to the lowest one
        returned for that query vector, an upper bound of its true value.
        """
        n = max(1, min(n, self.info.entries))
        # ids only (``<concept id>|label0``, ``|label<n>`` for alternative labels, ``|desc``): reading the
        # entries' metadata back took most of a query's time
        res = self.collection.query(query_embeddings=vectors, n_results=n, where=where or None, include=["distances"])
        pos: dict[str, int] = {}
        rows: list[tuple[int, int, str, float]] = []
        floors = np.zeros(len(vectors), dtype=np.float32)
        for q, (ids, dists) in enumerate(zip(res["ids"], res["distances"])):
            floors[q] = 1.0 - max(dists) if dists else 0.0
            for entry, dist in zip(ids, dists):
                cid, suffix = entry.rsplit("|", 1)
                i = pos.setdefault(cid, len(pos))
                rows.append((i, q, _KINDS.get(suffix, "alt"), 1.0 - dist))
        sims = {kind: np.tile(floors, (len(pos), 1)) for kind in ("label", "alt", "desc")}
        for i, q, kind, sim in rows:
            sims[kind][i, q] = max(sims[kind][i, q], sim)
        return DenseHits(list(pos), sims["label"], sims["alt"], sims["desc"])


def _metadata(graph: PhyshGraph, complete: bool, seconds: float = 0.0) -> dict:
    return {
        "physh_sha256": graph.sha256,
        "physh_version": graph.version,
        "model": MODEL_NAME,
        "model_fingerprint": model_fingerprint(),
        "recipe_fingerprint": recipe_fingerprint(graph),
        "documents_recipe": docs_mod.RECIPE,
        "schema": SCHEMA,
        "complete": complete,
        "build_seconds": round(seconds, 3),
    }


def _ready(client, name: str):
    from chromadb.errors import NotFoundError

    try:
        # no embedding function needed to read: queries pass vectors (keeps the model unloaded)
        col = client.get_collection(name, embedding_function=None)
    except (NotFoundError, ValueError):
        return None
    meta = col.metadata or {}
    return col if meta.get("complete") is True else None


def _build(client, name: str, graph: PhyshGraph, cache_dir: Path, log: Log) -> object:
    from chromadb.errors import NotFoundError

    enc = embedder.encoder(
        cache_dir, embedder.BUILD_THREADS, int8=True
    )  # export/quantize/load first: build_seconds is embed + store
    t0 = time.perf_counter()
    try:
        client.delete_collection(name)  # a half-built leftover
    except (NotFoundError, ValueError):
        pass
    texts = docs_mod.documents(graph)
    ids, kinds, strings, metas = [], [], [], []
    for t in texts:
        node = graph.concepts[t.id]
        flags: dict = {slug("f", f): True for f in graph.facet_closure(node)}
        flags.update({slug("d", d): True for d in node.disciplines})
        entries = [(f"label{i}", "label" if i == 0 else "alt", lab) for i, lab in enumerate(t.labels)]
        entries.append(("desc", "desc", t.description))
        for suffix, kind, text in entries:
            ids.append(f"{t.id}|{suffix}")
            kinds.append(kind)
            strings.append(text)
            metas.append({"concept": t.id, "kind": kind, **flags})
    log(f"building the PhySH concept index ({len(texts)} concepts, {len(ids)} vectors, {MODEL_NAME}) ...")
    vectors = enc.encode(strings)
    col = client.create_collection(
        name,
        configuration={"hnsw": {"space": "cosine", "ef_construction": 100, "ef_search": 200}},
        embedding_function=None,  # queries always pass vectors from the ONNX encoder
        metadata=_metadata(graph, complete=False),
    )
    step = min(BATCH, client.get_max_batch_size())
    for i in range(0, len(ids), step):
        col.add(
            ids=ids[i : i + step],
            embeddings=vectors[i : i + step],
            documents=strings[i : i + step],
            metadatas=metas[i : i + step],
        )
    seconds = time.perf_counter() - t0
    col.modify(metadata=_metadata(graph, complete=True, seconds=seconds))
    try:  # drop collections of older fingerprints; never fail a finished build over it
        stale = [getattr(c, "name", c) for c in client.list_collections()]
    except Exception:
        stale = []
    for other_name in stale:
        if other_name.startswith(PREFIX) and other_name != name:
            try:
                client.delete_collection(other_name)
            except Exception:  # another process may have removed it already
                pass
    log(f"built the PhySH concept index in {seconds:.1f} s")
    return col


def is_built(graph: PhyshGraph, cache_dir: Path) -> bool:
    """Is a complete index for ``graph`` in ``cache_dir`` (nothing is built or created)?"""
    chroma_dir = Path(cache_dir) / "chroma"
    return chroma_dir.is_dir() and _ready(_client(str(chroma_dir.resolve())), collection_name(graph)) is not None


def open_index(graph: PhyshGraph, cache_dir: Path, *, force: bool = False, log: Log | None = _stderr) -> ConceptIndex:
    """Open the collection for ``graph``, building it (once, under a file lock) when missing or stale."""
    from filelock import FileLock, Timeout

    log = log or (lambda _msg: None)
    t0 = time.perf_counter()
    chroma_dir = Path(cache_dir) / "chroma"
    try:
        chroma_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HypofinderError(f"cannot create the index folder {chroma_dir}: {exc.strerror}") from None
    chroma_dir = chroma_dir.resolve()
    client = _client(str(chroma_dir))
    name = collection_name(graph)
    col = None if force else _ready(client, name)
    built = False
    if col is None:
        lock = FileLock(str(Path(cache_dir) / "chroma.lock"))
        try:
            with lock.acquire(timeout=LOCK_TIMEOUT_S):
                col = None if force else _ready(client, name)  # another process may have built it meanwhile
                if col is None:
                    col = _build(client, name, graph, Path(cache_dir), log)
                    built = True
        except Timeout:
            raise HypofinderError(
                f"waited {LOCK_TIMEOUT_S} s for another process building the index (lock {lock.lock_file})"
            ) from None
    entries = col.count()
    info = IndexInfo(
        path=str(chroma_dir),
        collection=name,
        count=len(docs_mod.documents(graph)),
        entries=entries,
        built=built,
        seconds=round(time.perf_counter() - t0, 3),
        physh_sha256=graph.sha256,
        physh_version=graph.version,
        model=MODEL_NAME,
    )
    return ConceptIndex(col, info, Path(cache_dir))
