"""Libraries on disk: one persistent Chroma collection per library plus a JSON manifest beside it.

    <cache-dir>/library/chroma/          the Chroma store (collection ``lib-<name>``, cosine space)
    <cache-dir>/library/<name>.json      the manifest: files (by content hash), counts, novelty calibration

A file's chunks are stored first and the manifest names the file only after that, so a crash can
leave nothing a search would see: chunks of files the manifest does not name are purged on open.
Writers take a file lock per library.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path

import numpy as np

from hypofinder.errors import BadInputError, HypofinderError
from hypofinder.library.models import Document, FileEntry, LibraryInfo, Manifest
from hypofinder.outfiles import write_atomic
from hypofinder.settings import settings

PREFIX = "lib-"
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
LOCK_TIMEOUT_S = 600
BATCH = 1000
INT8 = True  # the int8 embedder (benchmarks/bench_library.py sets False to measure the fp32 one beside it)


# ----------------------------------------------------------------------------- the embedder (one seam)


def embed(texts: list[str], *, batch: bool = False) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings, one row per text, for passages and queries alike: the
    ontology room's ONNX embedder in its int8 form (``batch``: its build thread count, for ingestion)."""
    from hypofinder.ontology import embedder

    threads = embedder.BUILD_THREADS if batch else embedder.QUERY_THREADS
    return embedder.encoder(settings().cache_dir, threads, int8=INT8).encode(list(texts))


def model_fingerprint() -> str:
    from hypofinder.ontology.embedder import INT8_VERSION
    from hypofinder.ontology.embedder import model_fingerprint as fingerprint

    return f"{fingerprint()}|int8v{INT8_VERSION}" if INT8 else fingerprint()


# ----------------------------------------------------------------------------- paths and names


def root() -> Path:
    return Path(settings().cache_dir).resolve() / "library"


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise BadInputError(
            f"library name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting and ending with a letter or digit)"
        )
    return name


def names() -> list[str]:
    folder = root()
    return sorted(p.stem for p in folder.glob("*.json") if NAME.match(p.stem)) if folder.exists() else []


def _manifest_path(name: str) -> Path:
    return root() / f"{name}.json"


@lru_cache(maxsize=4)
def _client(path: str):
    from hypofinder.ontology.embedder import offline

    offline()
    import chromadb
    from chromadb.config import Settings

    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


def client():
    folder = root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HypofinderError(f"cannot create the library folder {folder}: {exc.strerror}") from None
    return _client(str(folder / "chroma"))


@contextmanager
def locked(name: str):
    from filelock import FileLock, Timeout

    lock = FileLock(str(root() / f"{name}.lock"))
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT_S):
            yield
    except Timeout:
        raise HypofinderError(f"waited {LOCK_TIMEOUT_S} s for another process writing library {name!r}") from None


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- a library


class Library:
    """An opened library: its manifest and its Chroma collection."""

    def __init__(self, manifest: Manifest, collection):
        self.manifest, self.collection = manifest, collection

    @property
    def name(self) -> str:
        return self.manifest.name

    def info(self) -> LibraryInfo:
        m = self.manifest
        return LibraryInfo(
            name=m.name, files=len(m.files), documents=m.documents, chunks=m.chunks, path=str(_manifest_path(m.name))
        )

    def fingerprint(self) -> str:
        """Changes whenever the library's content (its files) or the embedding model changes."""
        return hashlib.sha256("|".join([self.manifest.model, *sorted(self.manifest.files)]).encode()).hexdigest()[:16]

    # -- reading
    def query(self, vectors: np.ndarray, n: int, *, embeddings: bool = False) -> list[list[dict]]:
        """The ``n`` nearest chunks per query vector: dicts of metadata + ``text`` + ``score`` (cosine)."""
        count = self.collection.count()
        if count == 0:
            return [[] for _ in range(len(vectors))]
        include = ["metadatas", "documents", "distances"] + (["embeddings"] if embeddings else [])
        res = self.collection.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32), n_results=max(1, min(n, count)), include=include
        )
        out = []
        for q in range(len(vectors)):
            rows = []
            for j, (meta, doc, dist) in enumerate(zip(res["metadatas"][q], res["documents"][q], res["distances"][q])):
                row = {**meta, "text": doc, "score": 1.0 - float(dist)}
                if embeddings:
                    row["embedding"] = np.asarray(res["embeddings"][q][j], dtype=np.float32)
                rows.append(row)
            out.append(rows)
        return out

    def first_chunks(self, limit: int) -> tuple[list[dict], np.ndarray]:
        """Metadata and embeddings of the first chunk of up to ``limit`` papers (for calibration)."""
        res = self.collection.get(where={"chunk": 0}, limit=limit, include=["metadatas", "embeddings"])
        return list(res["metadatas"]), np.asarray(res["embeddings"], dtype=np.float32)

    def texts(self, doc_ids: list[str]) -> dict[str, str]:
        """The full stored text of the given papers (their chunks joined in order)."""
        if not doc_ids:
            return {}
        res = self.collection.get(where={"doc": {"$in": list(doc_ids)}}, include=["metadatas", "documents"])
        parts: dict[str, list[tuple[int, str]]] = {}
        for meta, doc in zip(res["metadatas"], res["documents"]):
            parts.setdefault(meta["doc"], []).append((meta["chunk"], doc))
        return {d: " ".join(t for _, t in sorted(p)) for d, p in parts.items()}

    # -- writing (callers hold ``locked(name)``)
    def store_file(self, digest: str, entry: FileEntry, documents: list[Document]) -> None:
        """Embed and store one file's chunks; on any failure remove them again, then re-raise."""
        ids, texts, metas = [], [], []
        for d in documents:
            for i, c in enumerate(d.chunks):
                ids.append(f"{digest[:16]}-{len(ids)}")
                texts.append(c.text)
                meta = {"doc": d.id, "title": d.title, "chunk": i, "file": digest, "path": Path(entry.path).name}
                meta.update(
                    {
                        k: v
                        for k, v in (("page", c.page), ("year", d.year), ("doi", d.doi), ("url", d.url))
                        if v is not None
                    }
                )
                metas.append(meta)
        self._purge_file(digest)  # leftovers of an interrupted earlier attempt
        try:
            vectors = embed(texts, batch=True)
            for i in range(0, len(ids), BATCH):
                self.collection.add(
                    ids=ids[i : i + BATCH],
                    embeddings=vectors[i : i + BATCH],
                    documents=texts[i : i + BATCH],
                    metadatas=metas[i : i + BATCH],
                )
        except BaseException:
            self._purge_file(digest)
            raise
        self.manifest.files[digest] = entry
        self.save()

    def save(self) -> None:
        root().mkdir(parents=True, exist_ok=True)
        write_atomic(_manifest_path(self.name), self.manifest.model_dump_json(indent=1))

    def _purge_file(self, digest: str) -> None:
        self.collection.delete(where={"file": digest})

    def reconcile(self) -> None:
        """Make store and manifest agree after an interrupted add: drop chunks of files the manifest does not
        name, and forget files whose chunks are not all there (adding them again then stores them again)."""
        res = self.collection.get(include=["metadatas"])
        per_file: dict[str, int] = {}
        orphans = []
        for i, m in zip(res["ids"], res["metadatas"]):
            if m.get("file") in self.manifest.files:
                per_file[m["file"]] = per_file.get(m["file"], 0) + 1
            else:
                orphans.append(i)
        for i in range(0, len(orphans), BATCH):
            self.collection.delete(ids=orphans[i : i + BATCH])
        lost = [d for d, f in self.manifest.files.items() if per_file.get(d, 0) != f.chunks]
        for digest in lost:
            self._purge_file(digest)
            del self.manifest.files[digest]
        if lost:
            self.save()


def _collection(name: str, create: bool):
    from chromadb.errors import NotFoundError

    c = client()
    if create:
        return c.get_or_create_collection(
            PREFIX + name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
    try:
        return c.get_collection(PREFIX + name, embedding_function=None)
    except (NotFoundError, ValueError):
        return None


def open_library(name: str, *, create: bool = False) -> Library:
    """Open library ``name``; an unknown name is one clear line listing the known ones."""
    name = check_name(name)
    path = _manifest_path(name)
    if path.exists():
        try:
            manifest = Manifest.model_validate_json(path.read_text())
        except ValueError:
            raise HypofinderError(
                f"library {name!r}: its manifest {path} is damaged; remove the library and add its files again"
            ) from None
    elif create:
        manifest = Manifest(name=name, model=model_fingerprint())
    else:
        known = names()
        raise BadInputError(
            f"unknown library {name!r} (known: {', '.join(known) if known else 'none yet'}; "
            "create one with `hypofinder library add PATH --name NAME`)"
        )
    collection = _collection(name, create=True)
    lib = Library(manifest, collection)
    if collection.count() != manifest.chunks:
        with locked(name):
            lib.reconcile()
    return lib


def drop(name: str) -> None:
    """Delete a library's collection and manifest (callers hold ``locked(name)``)."""
    from chromadb.errors import NotFoundError

    with suppress(NotFoundError, ValueError):  # already gone
        client().delete_collection(PREFIX + name)
    _manifest_path(name).unlink(missing_ok=True)


def remove(name: str) -> LibraryInfo:
    lib = open_library(name)
    info = lib.info()
    with locked(lib.name):
        drop(lib.name)
    return info
