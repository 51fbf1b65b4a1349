"""Read papers from files: PDF (PDFium via pypdfium2, text per page), BibTeX, JSONL/CSV records, plain text/Markdown.

``read(path) -> Parsed``: the documents of one file, their text chunked with overlap (page numbers
kept for PDFs), and one line per entry that could not be read. A file that cannot be read at all
raises ``BadInputError`` with one line naming it.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from hypofinder.errors import BadInputError
from hypofinder.jsonl import SUFFIXES as JSONL_SUFFIXES
from hypofinder.jsonl import jsonl_lines
from hypofinder.library.citations import sentences
from hypofinder.library.models import Chunk, Document, Parsed

CHUNK_WORDS = 150  # all-MiniLM-L6-v2 reads 256 word pieces (~180 words); longer chunks are cut unseen
OVERLAP_WORDS = 20  # whole sentences; measured by benchmarks/bench_library.py (passages in long documents)
MAX_FIELD_CHARS = 20000
PLACEHOLDER_TITLE = re.compile(r"^(untitled( document)?|microsoft word\b.*)$", re.IGNORECASE)  # PDF writers' defaults

KINDS = {
    ".pdf": "pdf",
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    **dict.fromkeys(JSONL_SUFFIXES, "jsonl"),
    ".csv": "csv",
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
}


def kind_of(path: Path) -> str:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise BadInputError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r} (use {', '.join(sorted(set(KINDS)))})"
        )
    return kind


def expand(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files to read (folders walked for supported types) and one line per path that does not exist."""
    files, problems = [], []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in KINDS)
            if not found:
                problems.append(f"{p}: no PDF, BibTeX, JSONL, CSV or text files in this folder")
            files += found
        elif p.exists():
            files.append(p)
        else:
            problems.append(f"{p}: no such file")
    return files, problems


def read(path: Path) -> Parsed:
    path = Path(path)
    kind = kind_of(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror})") from None
    reader = {"pdf": _pdf, "bibtex": _bibtex, "jsonl": _jsonl, "csv": _csv, "text": _text}[kind]
    parsed = Parsed(path=str(path), kind=kind)
    reader(path, data, parsed)
    if not parsed.documents and not parsed.problems:
        parsed.problems.append(f"{path}: no records found")
    return parsed


# ----------------------------------------------------------------------------- text helpers


def clean(text: str) -> str:
    return " ".join(str(text).replace("\x00", " ").split())


def chunks(pages: list[tuple[str, int | None]]) -> list[Chunk]:
    """Passages of whole sentences, up to ``CHUNK_WORDS`` words each, over the text of consecutive pages.

    A passage opens with the last sentences of the one before, up to ``OVERLAP_WORDS`` words in all, so a
    finding near a boundary is read with its context; no sentence is cut, except one longer than a passage
    (cut into ``CHUNK_WORDS``-word pieces). Each passage keeps the page its first sentence starts on."""
    out: list[Chunk] = []
    current: list[tuple[list[str], int | None]] = []  # (a sentence's words, its page)

    def size(units) -> int:
        return sum(len(words) for words, _ in units)

    for text, page in pages:
        for sentence in sentences(text):
            words = sentence.split()
            for start in range(0, len(words), CHUNK_WORDS):
                piece = words[start : start + CHUNK_WORDS]
                if current and size(current) + len(piece) > CHUNK_WORDS:
                    out.append(Chunk(text=" ".join(w for ws, _ in current for w in ws), page=current[0][1]))
                    keep: list[tuple[list[str], int | None]] = []
                    for unit in reversed(current[1:]):  # whole trailing sentences, never the whole passage
                        if size(keep) + len(unit[0]) > OVERLAP_WORDS:
                            break
                        keep.insert(0, unit)
                    while keep and size(keep) + len(piece) > CHUNK_WORDS:
                        keep.pop(0)
                    current = keep
                current.append((piece, page))
    if current:
        out.append(Chunk(text=" ".join(w for ws, _ in current for w in ws), page=current[0][1]))
    return out


def _record(path: Path, where: str, rec: dict, parsed: Parsed) -> None:
    """A title/abstract record (JSONL, CSV): id and title required; abstract, year, doi, url optional."""
    rec = {str(k).strip().lower(): v for k, v in rec.items() if k is not None}
    rid, title = clean(rec.get("id") or ""), clean(rec.get("title") or "")
    missing = [name for name, value in (("id", rid), ("title", title)) if not value]
    if missing:
        parsed.problems.append(f"{where}: missing {' and '.join(repr(m) for m in missing)}; skipped")
        return
    abstract = clean(rec.get("abstract") or "")[:MAX_FIELD_CHARS]
    year = _year(rec.get("year"))
    parsed.documents.append(
        Document(
            id=rid,
            title=title,
            chunks=chunks([(f"{title}. {abstract}".strip(), None)]),
            year=year,
            doi=clean(rec.get("doi") or "") or None,
            url=clean(rec.get("url") or "") or None,
        )
    )


def _year(value) -> int | None:
    m = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", str(value or ""))
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------------- readers


def _jsonl(path: Path, data: bytes, parsed: Parsed) -> None:
    text = _decode(path, data)
    for where, rec in jsonl_lines(text, parsed.problems, lambda n: f"{path}:{n}"):
        if not isinstance(rec, dict):
            parsed.problems.append(f"{where}: expected a JSON object, got {type(rec).__name__}; skipped")
            continue
        _record(path, where, rec, parsed)


def _csv(path: Path, data: bytes, parsed: Parsed) -> None:
    reader = csv.DictReader(io.StringIO(_decode(path, data), newline=""))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"id", "title"} <= fields:
        raise BadInputError(
            f"{path}: the CSV header must name the columns id and title (found: {', '.join(sorted(fields)) or 'none'})"
        )
    try:
        for row in reader:
            _record(path, f"{path}:{reader.line_num}", row, parsed)
    except csv.Error as exc:
        parsed.problems.append(f"{path}:{reader.line_num}: {exc}; the rest of the file skipped")


def _text(path: Path, data: bytes, parsed: Parsed) -> None:
    text = _decode(path, data)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise BadInputError(f"{path}: the file is empty")
    title = clean(lines[0].lstrip("#").strip())[:200] or path.stem
    parsed.documents.append(Document(id=path.stem, title=title, chunks=chunks([(clean(text), None)])))


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _pdf(path: Path, data: bytes, parsed: Parsed) -> None:
    """Text per page with PDFium (pypdfium2): ~3x less CPU than pypdf on the benchmark's pages, same words."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            raise BadInputError(f"{path}: encrypted PDF (needs a password); decrypt it first") from None
        raise BadInputError(f"{path}: not a readable PDF ({' '.join(str(exc).split())[:120]})") from None
    try:
        pages = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            pages.append((clean(textpage.get_text_bounded()), i + 1))
            textpage.close()
            page.close()
        meta_title = clean(doc.get_metadata_dict().get("Title", ""))
    except pdfium.PdfiumError as exc:
        raise BadInputError(f"{path}: not a readable PDF ({' '.join(str(exc).split())[:120]})") from None
    finally:
        doc.close()
    if not any(text for text, _ in pages):
        raise BadInputError(f"{path}: no text in its {len(pages)} page(s) (an image-only scan? run OCR first)")
    first = next(text for text, _ in pages if text)
    if len(meta_title) <= 3 or PLACEHOLDER_TITLE.match(meta_title):
        meta_title = ""
    title = meta_title or " ".join(first.split()[:16]) or path.stem
    parsed.pages = len(pages)
    parsed.documents.append(Document(id=path.stem, title=title[:200], chunks=chunks([p for p in pages if p[0]])))


# ----------------------------------------------------------------------------- BibTeX

_ENTRY = re.compile(r"^[ \t]*@[ \t]*(\w+)[ \t]*[{(]", re.MULTILINE)
_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")
_NOT_ENTRIES = {"comment", "string", "preamble"}


def _bibtex(path: Path, data: bytes, parsed: Parsed) -> None:
    """bibtexparser reads the file; every @entry it could not read is named with its line."""
    import bibtexparser
    from bibtexparser.bparser import BibTexParser

    text = _decode(path, data)
    try:
        db = bibtexparser.loads(text, parser=BibTexParser(common_strings=True, ignore_nonstandard_types=False))
        entries = {e.get("ID"): e for e in db.entries}
    except Exception:  # noqa: BLE001 - a broken file: fall back to reading entry by entry below
        entries = {}
    starts = list(_ENTRY.finditer(text))
    for i, m in enumerate(starts):
        etype = m.group(1).lower()
        if etype in _NOT_ENTRIES:
            continue
        lineno = text.count("\n", 0, m.start()) + 1
        block = text[m.start() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        key = _KEY.match(block.strip())
        entry = entries.get(key.group(1)) if key else None
        if entry is None and key:
            entry = _one_entry(block)
        where = f"{path}:{lineno}"
        if entry is None:
            why = "no citation key" if key is None else "unbalanced braces or a malformed field"
            parsed.problems.append(f"{where}: malformed BibTeX entry ({why}); skipped")
            continue
        title = _latex(entry.get("title", ""))
        if not title:
            parsed.problems.append(f"{where}: BibTeX entry {entry['ID']!r} has no title; skipped")
            continue
        abstract = _latex(entry.get("abstract", ""))[:MAX_FIELD_CHARS]
        parsed.documents.append(
            Document(
                id=entry["ID"],
                title=title,
                chunks=chunks([(f"{title}. {abstract}".strip(), None)]),
                year=_year(entry.get("year")),
                doi=clean(entry.get("doi", "")) or None,
                url=clean(entry.get("url", "")) or None,
            )
        )


def _one_entry(block: str) -> dict | None:
    import bibtexparser
    from bibtexparser.bparser import BibTexParser

    if block.count("{") != block.count("}"):
        return None
    try:
        db = bibtexparser.loads(block, parser=BibTexParser(common_strings=True, ignore_nonstandard_types=False))
    except Exception:  # noqa: BLE001
        return None
    return db.entries[0] if db.entries else None


def _latex(value: str) -> str:
    value = re.sub(r"\\[a-zA-Z]+\s*", "", str(value))  # \emph, \textit ... (their argument stays)
    return clean(value.replace("{", "").replace("}", "").replace("~", " "))
