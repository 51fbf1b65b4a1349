"""The library room's own records: parsed documents, the per-library manifest, add/list results."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Chunk(BaseModel):
    text: str
    page: int | None = None


class Document(BaseModel):
    """One paper as read from a file, its text cut into overlapping chunks."""

    id: str
    title: str
    chunks: list[Chunk]
    year: int | None = None
    doi: str | None = None
    url: str | None = None


class Parsed(BaseModel):
    """What one file gave: its documents and the entries (lines) that could not be read."""

    path: str
    kind: str = Field(description="pdf, bibtex, jsonl, csv or text")
    documents: list[Document] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="One line each, naming the file (and line)")
    pages: int = 0


class FileEntry(BaseModel):
    path: str
    kind: str
    documents: int
    chunks: int
    pages: int = 0


class Calibration(BaseModel):
    """Novelty calibration of one library: P(new) = 1 / (1 + exp(-(a + b * density)))."""

    a: float
    b: float
    papers: int = Field(description="Papers whose claims were probed")
    own: float = Field(description="Median density of a claim next to its own paper")
    other: float = Field(description="Median density of a claim next to the other papers only")


class Manifest(BaseModel):
    """A library's table of contents (JSON beside the Chroma store; written atomically after each file)."""

    name: str
    model: str = Field(description="Embedding-model fingerprint the vectors were made with")
    files: dict[str, FileEntry] = Field(default_factory=dict, description="By sha256 of the file's bytes")
    calibration: Calibration | None = Field(default=None, description="For novelty; None below 3 papers")

    @property
    def documents(self) -> int:
        return sum(f.documents for f in self.files.values())

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files.values())


class LibraryInfo(BaseModel):
    name: str
    files: int
    documents: int
    chunks: int
    path: str


class AddReport(BaseModel):
    """What ``library add`` did, file by file."""

    name: str
    added: list[FileEntry] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="Files already in the library (same content)")
    problems: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.added)
