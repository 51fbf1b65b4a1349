"""Find passages: ``search`` (one best passage per paper) and ``sources_for`` (a context's numbered sources)."""

from __future__ import annotations

from hypofinder.errors import BadInputError
from hypofinder.library.store import Library, embed, open_library
from hypofinder.models import Source

MAX_K = 100
MAX_QUERY_CHARS = 5000
SNIPPET_CHARS = 400
QUERY_WEIGHT = 0.7  # sources_for: score = 0.7 * sim(question) + 0.3 * sim(question + concept)
OVERSAMPLE = 4  # chunks fetched per paper wanted (several chunks of one paper collapse into one hit)


def as_library(library: Library | str) -> Library:
    return library if isinstance(library, Library) else open_library(library)


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise BadInputError("the search text is empty")
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        raise BadInputError(f"the search text is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    return text


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadInputError(f"k must be an integer from 1 to {MAX_K} (got {k!r})")
    return k


def to_source(row: dict, score: float | None = None, snippet: int | None = None) -> Source:
    text = row["text"]
    if snippet and len(text) > snippet:
        text = text[:snippet].rsplit(" ", 1)[0] + " …"
    return Source(
        id=row["doc"],
        title=row["title"],
        score=round(row["score"] if score is None else score, 4),
        text=text,
        page=row.get("page"),
        year=row.get("year"),
        doi=row.get("doi"),
        url=row.get("url"),
    )


def best_per_paper(rows: list[dict]) -> list[dict]:
    """Keep each paper's best chunk, best first."""
    best: dict[str, dict] = {}
    for r in rows:
        if r["doc"] not in best or r["score"] > best[r["doc"]]["score"]:
            best[r["doc"]] = r
    return sorted(best.values(), key=lambda r: -r["score"])


def nearest_papers(lib: Library, vectors, k: int, *, embeddings: bool = False) -> list[list[dict]]:
    """Per query vector, up to ``k`` papers' best chunks, best first: fetches more chunks while many-chunk
    papers (PDFs) crowd the list, so ``k`` distinct papers come back whenever the library has them."""
    n, total = k * OVERSAMPLE, lib.manifest.chunks
    while True:
        found = lib.query(vectors, n, embeddings=embeddings)
        papers = [best_per_paper(rows) for rows in found]
        if n >= total or all(len(p) >= k for p in papers):
            return [p[:k] for p in papers]
        n *= 4


def search(library: Library | str, text: str, k: int = 10) -> list[Source]:
    """The ``k`` papers closest to ``text``, each with its best passage; score = cosine similarity."""
    text, k = check_text(text), check_k(k)
    lib = as_library(library)
    return [to_source(r) for r in nearest_papers(lib, embed([text]), k)[0]]


def sources_for(library: Library | str, query: str, concept_text: str, k: int = 4) -> list[Source]:
    """A context's sources: passages close to the question, and to the question seen from the concept.

    Candidates come from both vectors; each is scored 0.7 x its similarity to the question plus
    0.3 x its similarity to "question + concept", so the paper on the question's subject leads while
    the concept reorders the rest. One passage per paper, best first, snippets of 400 characters.
    """
    lib = as_library(library)
    k = check_k(k)
    vectors = embed([query, f"{query} {concept_text}".strip()])
    by_q, by_qc = nearest_papers(lib, vectors, 2 * k, embeddings=True)
    rows = {}
    for r in by_q + by_qc:
        rows.setdefault((r["doc"], r["chunk"]), r)
    scored = []
    for r in rows.values():
        sims = vectors @ r["embedding"]
        scored.append({**r, "score": QUERY_WEIGHT * float(sims[0]) + (1 - QUERY_WEIGHT) * float(sims[1])})
    return [to_source(r, snippet=SNIPPET_CHARS) for r in best_per_paper(scored)[:k]]
