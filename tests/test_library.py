"""Literature libraries: real files (JSONL, CSV, BibTeX, text, PDFs made here), real embedder, real Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hypofinder import library
from hypofinder.errors import BadInputError
from hypofinder.library.citations import citations, sentences
from hypofinder.models import Source

ROOT = Path(__file__).resolve().parent.parent
ABSTRACTS = ROOT / "tests" / "data" / "abstracts.jsonl"
CLI = [sys.executable, "-c", "import sys; from hypofinder.cli import main; sys.exit(main())"]

# paraphrased questions -> the paper they are about (no title words copied where avoidable)
PARAPHRASES = {
    "how does removing sulfur atoms shift the optical gap of a single layer of MoS2": "mos2-vs-gap",
    "quantum light sources made from carbon impurities in hBN": "hbn-emitters",
    "why do perovskite photovoltaic devices show hysteresis when ions move": "perovskite-ion-migration",
    "stopping lithium filaments from shorting batteries with ceramic electrolytes": "li-dendrites",
    "flat bands and superconducting states when two graphene layers are rotated": "graphene-twist-sc",
    "hydrogen-rich compounds superconduct under megabar pressure": "superconducting-hydrides",
    "porous frameworks with amines that soak up CO2 from flue gas": "mof-co2-capture",
    "resistance caused by a domain wall in a magnetic wire": "domain-wall-mr",
    "neural networks on crystal graphs to predict band gaps": "gnn-materials-property",
    "coupling atomistic spin simulations with micromagnetics to describe magnets across length scales": "multiscale-magnetism",
}


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def papers() -> str:
    """The 24-abstract corpus as library 'papers' (built once per test module)."""
    report = library.add("papers", [ABSTRACTS])
    assert not report.problems and report.added[0].documents == 24
    return "papers"


def make_pdf(path: Path, pages: list[str], title: str | None = None, password: str | None = None) -> Path:
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), encrypt=password)  # reportlab's standard (RC4) encryption
    if title:
        c.setTitle(title)
    for text in pages:
        t = c.beginText(40, 800)
        words = text.split()
        for i in range(0, len(words), 12):
            t.textLine(" ".join(words[i : i + 12]))
        c.drawText(t)
        c.showPage()
    c.save()
    return path


# ----------------------------------------------------------------------------- search


def test_paraphrased_query_puts_the_right_paper_first(papers):
    for query, expected in PARAPHRASES.items():
        hits = library.search(papers, query, k=3)
        assert hits[0].id == expected, (query, [h.id for h in hits])
        assert hits[0].score > hits[1].score and len({h.id for h in hits}) == 3


def test_readd_is_idempotent_and_list_counts(papers):
    before = {i.name: i for i in library.libraries()}[papers]
    again = library.add(papers, [ABSTRACTS])
    assert again.added == [] and again.skipped == [str(ABSTRACTS)]
    after = {i.name: i for i in library.libraries()}[papers]
    assert (
        (after.files, after.documents, after.chunks) == (before.files, before.documents, before.chunks) == (1, 24, 24)
    )


def test_sources_for_leads_with_the_question_subject(papers):
    query = "How do sulfur vacancies change the gap of monolayer MoS2?"
    for concept in ("Point defects", "Photoluminescence", "Density functional theory"):
        sources = library.sources_for(papers, query, concept, k=4)
        assert sources[0].id == "mos2-vs-gap"
        assert len(sources) == 4 and [s.score for s in sources] == sorted((s.score for s in sources), reverse=True)
        assert all(len(s.text) <= 402 for s in sources)


def test_novelty_is_calibrated_and_names_the_closest_paper(papers):
    cal = library.open_library(papers).manifest.calibration
    assert cal is not None and cal.papers == 24 and cal.own > cal.other and cal.b < 0
    restated = library.novelty(papers, "Sulfur vacancies in monolayer MoS2 narrow its band gap as their density rises.")
    related = library.novelty(papers, "Pairs of selenium vacancies in WSe2 lengthen the interlayer exciton lifetime.")
    far = library.novelty(papers, "Bird migration routes follow the magnetic field lines of the Earth.")
    assert restated.closest_id == "mos2-vs-gap" and restated.similarity > 0.7
    assert 0.0 <= restated.score < related.score < far.score <= 1.0
    assert restated.score < 0.3 and far.score > 0.7


# ----------------------------------------------------------------------------- citations


def test_citation_parsing():
    text = "Vacancies narrow the gap [S1]. [S2] Pairs split levels [S1, S3]. Ranges work [S2-S4]. No cite here."
    assert sentences(text)[0] == "Vacancies narrow the gap [S1]. [S2]"
    assert citations(text) == [
        ("Vacancies narrow the gap [S1]. [S2]", [1, 2]),
        ("Pairs split levels [S1, S3].", [1, 3]),
        ("Ranges work [S2-S4].", [2, 3, 4]),
    ]


def test_check_citations_flags_unknown_and_unsupported(papers):
    sources = library.sources_for(papers, "sulfur vacancies in monolayer MoS2 band gap", "Point defects", k=3)
    assert sources[0].id == "mos2-vs-gap"
    text = (
        "Sulfur vacancies add in-gap states that narrow the optical gap of monolayer MoS2 [S1]. "
        "Garnet electrolytes stop lithium dendrites in solid-state batteries [S1]. "
        "A fourth study settles it [S9]."
    )
    flags = library.check_citations(text, sources)
    by_sentence = {(f.sentence.split()[0], f.problem) for f in flags}
    assert ("Sulfur", "unsupported") not in by_sentence  # the supported citation holds
    assert ("Garnet", "unsupported") in by_sentence
    assert [f.ref for f in flags if f.problem == "unknown source"] == ["S9"]
    unsupported = next(f for f in flags if f.problem == "unsupported")
    assert unsupported.support is not None and unsupported.support < library.SUPPORT_THRESHOLD
    assert library.check_citations("No citations at all.", sources) == []


# ----------------------------------------------------------------------------- files and bad input


def test_jsonl_csv_text_bibtex_with_bad_entries(tmp_path):
    good = {
        "id": "a1",
        "title": "Strain tunes excitons in WSe2",
        "abstract": "Uniaxial strain shifts exciton energies.",
    }
    (tmp_path / "recs.jsonl").write_text(
        json.dumps(good)
        + "\n{not json\n"
        + json.dumps({"title": "no id"})
        + "\n\n"
        + json.dumps({"id": "a2", "title": "Phonons in SnSe", "year": "2016"})
        + "\n"
    )
    (tmp_path / "recs.csv").write_text(
        'id,title,abstract,doi\nc1,"Ferroelectric domains, switched",Phase field.,10.1/x\nc2,,missing title,\n'
    )
    (tmp_path / "notes.md").write_text("# Reading notes on skyrmions\n\nSkyrmions move under spin-orbit torque.\n")
    (tmp_path / "refs.bib").write_text(
        "@string{prl = {Phys. Rev. Lett.}}\n"
        "@article{ok2020,\n  title = {Defect-bound excitons in {MoS2}},\n  journal = prl,\n  year = {2020},\n"
        "  abstract = {Excitons bind to sulfur vacancies.}\n}\n\n"
        "@article{broken,\n  title = {Unclosed {brace,\n  year = {2021}\n}\n\n"
        '@article{ok2,\n  title = "Strain engineering of WSe2",\n  year = 2022,\n}\n'
    )
    report = library.add("files", [tmp_path])
    assert sorted(Path(f.path).name for f in report.added) == ["notes.md", "recs.csv", "recs.jsonl", "refs.bib"]
    problems = "\n".join(report.problems)
    assert f"{tmp_path / 'recs.jsonl'}:2: not valid JSON" in problems
    assert f"{tmp_path / 'recs.jsonl'}:3: missing 'id'" in problems
    assert f"{tmp_path / 'recs.csv'}:3: missing 'title'" in problems
    assert f"{tmp_path / 'refs.bib'}:9: malformed BibTeX entry" in problems
    assert len(report.problems) == 4
    ids = {h.id for h in library.search("files", "excitons strain skyrmions phonons domains", k=20)}
    assert ids == {"a1", "a2", "c1", "notes", "ok2020", "ok2"}
    hit = library.search("files", "defect-bound excitons at sulfur vacancies", k=1)[0]
    assert (hit.id, hit.title, hit.year) == ("ok2020", "Defect-bound excitons in MoS2", 2020)


def test_pdf_pages_kept_and_bad_pdfs_named(tmp_path):
    filler = "The sample was mounted on a copper holder and cooled slowly before every measurement. " * 12
    make_pdf(
        tmp_path / "defects.pdf",
        [
            "Vacancy pairs in monolayer MoS2. " + filler,
            filler + "Closely spaced sulfur vacancy pairs split the defect levels inside the band gap. " + filler,
            "Outlook. " + filler,
        ],
        title="Vacancy pairs in monolayer MoS2",
    )
    make_pdf(tmp_path / "scan.pdf", [""])
    make_pdf(tmp_path / "locked.pdf", ["Secret findings about vacancies. " + filler], password="secret")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")

    report = library.add(
        "pdfs",
        [
            tmp_path / "defects.pdf",
            tmp_path / "scan.pdf",
            tmp_path / "locked.pdf",
            tmp_path / "broken.pdf",
            tmp_path / "missing.pdf",
        ],
    )
    assert [Path(f.path).name for f in report.added] == ["defects.pdf"] and report.added[0].pages == 3
    assert report.added[0].chunks >= 5
    msgs = {Path(p.split(":")[0]).name: p for p in report.problems}
    assert set(msgs) == {"scan.pdf", "locked.pdf", "broken.pdf", "missing.pdf"}
    assert "no text" in msgs["scan.pdf"] and "encrypted" in msgs["locked.pdf"]
    assert "not a readable PDF" in msgs["broken.pdf"] and "no such file" in msgs["missing.pdf"]
    assert all("\n" not in p for p in report.problems)
    hit = library.search("pdfs", "nearby sulfur vacancy pairs split in-gap defect levels", k=1)[0]
    assert (hit.id, hit.title, hit.page) == ("defects", "Vacancy pairs in monolayer MoS2", 2)
    info = {i.name: i for i in library.libraries()}["pdfs"]
    assert (info.files, info.documents) == (1, 1)


def test_int8_embedder_stays_close_to_fp32():
    """The library's int8 model (made once into the cache) gives vectors within cosine 0.98 of the fp32 ones,
    on short queries and on full ~250-token passages, batched or one by one (as ``embed`` runs a query)."""
    from hypofinder.library import store
    from hypofinder.ontology import embedder
    from hypofinder.settings import settings

    records = [json.loads(line) for line in ABSTRACTS.read_text().splitlines()]
    texts = list(PARAPHRASES) + [f"{r['title']}. {r['abstract']}" for r in records]
    cache = settings().cache_dir
    fp32 = embedder.encoder(cache).encode(texts)
    int8 = embedder.encoder(cache, int8=True).encode(texts)
    assert int8.shape == fp32.shape == (len(texts), 384)
    cos = np.sum(fp32 * int8, axis=1)
    assert cos.min() >= 0.98, cos.min()
    assert not np.allclose(fp32, int8)  # really the other model
    # activations are quantised per batch, so a text's int8 vector shifts slightly with its batch-mates
    alone = np.concatenate([store.embed([t]) for t in texts[:3]])
    assert np.sum(alone * int8[:3], axis=1).min() >= 0.98 and np.sum(alone * fp32[:3], axis=1).min() >= 0.98
    q8, f32 = embedder.int8_path(cache), embedder.onnx_path(cache)
    assert q8.exists() and q8.stat().st_size < 0.7 * f32.stat().st_size  # word embeddings stay fp32


def test_multi_page_pdf_ingests_every_page(tmp_path):
    """A 12-page PDF made here: every page's text is stored, and a query on one page's finding finds that page."""
    topics = [
        "sulfur vacancies narrow the optical gap of monolayer molybdenum disulfide",
        "carbon impurities in hexagonal boron nitride emit single photons at room temperature",
        "mobile iodide ions cause current voltage hysteresis in perovskite solar cells",
        "garnet ceramic electrolytes suppress lithium dendrites in solid state batteries",
        "twisted bilayer graphene near the magic angle shows flat bands and superconductivity",
        "hydrogen rich hydrides become superconducting under megabar pressures",
        "amine functionalised metal organic frameworks capture carbon dioxide from flue gas",
        "magnetic domain walls in permalloy nanowires add electrical resistance",
        "graph neural networks on crystal structures predict formation energies and band gaps",
        "atomistic spin dynamics coupled with micromagnetics describe magnets across length scales",
        "ferroelectric domain walls in bismuth ferrite conduct electricity",
        "phonon drag enhances the thermopower of graphene at low temperature",
    ]
    filler = "The samples were prepared, annotated and measured following the protocol described in the methods. "
    pdf = make_pdf(tmp_path / "review.pdf", [f"{filler * 4}We find that {t}. {filler * 4}" for t in topics])
    report = library.add("pages", [pdf])
    assert not report.problems and report.added[0].pages == len(topics)
    # reportlab's default metadata title "untitled" is a placeholder: the title comes from the first words
    assert library.search("pages", topics[0], k=1)[0].title.startswith("The samples were prepared")
    for page, topic in enumerate(topics, 1):
        hit = library.search("pages", topic, k=1)[0]
        assert hit.page in (page - 1, page), (topic, hit.page)  # a passage keeps the page it starts on
    stored = library.open_library("pages").texts(["review"])["review"]
    assert all(t in stored for t in topics)


def test_passages_keep_whole_sentences_with_a_sentence_overlap():
    """Passages are whole sentences up to CHUNK_WORDS words; the next one opens with the last sentences of up to
    OVERLAP_WORDS words; a run-on sentence longer than a passage is cut; each passage keeps its first page."""
    from hypofinder.library import ingest
    from hypofinder.library.citations import sentences

    said = [f"Finding {i} says that sample {i} of series {i % 7} behaves as predicted by model {i}." for i in range(60)]
    pages = [(" ".join(said[i : i + 20]), i // 20 + 1) for i in range(0, 60, 20)]
    out = ingest.chunks(pages)
    assert all(len(c.text.split()) <= ingest.CHUNK_WORDS for c in out)
    parts = [sentences(c.text) for c in out]
    assert all(set(p) <= set(said) for p in parts)  # no sentence cut
    assert {s for p in parts for s in p} == set(said)  # none lost
    for before, after in zip(parts, parts[1:]):
        carried = [s for s in after if s in before]
        assert carried == before[len(before) - len(carried) :] == after[: len(carried)]  # the trailing sentences
        assert 0 < sum(len(s.split()) for s in carried) <= ingest.OVERLAP_WORDS
    assert [c.page for c in out] == sorted(c.page for c in out) and out[0].page == 1 and out[-1].page == 3
    long = ingest.chunks([("word " * 400, 2)])
    assert [len(c.text.split()) for c in long] == [150, 150, 100] and {c.page for c in long} == {2}
    assert ingest.chunks([]) == [] and ingest.chunks([("", 1)]) == []


def test_parallel_encoder_gives_the_same_vectors():
    """Two workers running small batches at once give exactly the vectors of one worker (same batches)."""
    from hypofinder.ontology import embedder
    from hypofinder.settings import settings

    records = [json.loads(line) for line in ABSTRACTS.read_text().splitlines()]
    texts = [f"{r['title']}. {r['abstract']}" for r in records] + [r["title"] for r in records]
    path = str(embedder.ensure_int8(settings().cache_dir))
    one, two = embedder._load(path, 1), embedder._load(path, 2)
    assert two.workers == 2 and one.workers == 1
    a, b = one.encode(texts), two.encode(texts)
    assert a.shape == (len(texts), 384)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)


def test_failed_store_leaves_nothing_half_written(tmp_path, monkeypatch):
    store = sys.modules["hypofinder.library.store"]
    real_embed = store.embed
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "x1", "title": "Phonon drag in graphene"}) + "\n")
    calls = {"n": 0}

    def flaky(texts, **_kw):
        calls["n"] += 1
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "embed", flaky)
    with pytest.raises(RuntimeError):
        library.add("crash", [tmp_path / "a.jsonl"])
    assert calls["n"] == 1 and "crash" not in {i.name for i in library.libraries()}
    monkeypatch.setattr(store, "embed", real_embed)
    report = library.add("crash", [tmp_path / "a.jsonl"])  # the same file again: stored this time
    assert report.added and library.search("crash", "graphene phonons", k=1)[0].id == "x1"


def test_bad_names_and_arguments(papers):
    with pytest.raises(BadInputError, match="unknown library 'nope'"):
        library.open_library("nope")
    with pytest.raises(BadInputError, match="not allowed"):
        library.add("../etc", [ABSTRACTS])
    with pytest.raises(BadInputError, match="k must be"):
        library.search(papers, "x", k=0)
    with pytest.raises(BadInputError, match="empty"):
        library.search(papers, "  ", k=3)


# ----------------------------------------------------------------------------- CLI


def test_cli_add_missing_path_is_one_line(tmp_path):
    proc = run_cli("library", "add", str(tmp_path / "nope.pdf"), "--name", "cli")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.pdf'}: no such file"]
    assert "cli" not in {i.name for i in library.libraries()}


def test_cli_add_search_list_remove(tmp_path):
    proc = run_cli("library", "add", str(ABSTRACTS), "--name", "clilib", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "added 1 file(s) (24 records, 24 passages)" in proc.stdout
    proc = run_cli(
        "library",
        "search",
        "magnetic whirls pushed along a track by current pulses",
        "--name",
        "clilib",
        "-k",
        "2",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits[0]["id"] == "skyrmion-racetrack" and len(hits) == 2
    assert all({"id", "title", "score", "text"} <= set(h) for h in hits)
    listed = json.loads(run_cli("library", "list", "--json").stdout)
    assert any((x["name"], x["files"], x["documents"], x["chunks"]) == ("clilib", 1, 24, 24) for x in listed)
    proc = run_cli("library", "remove", "clilib")
    assert proc.returncode == 0 and "removed library clilib" in proc.stdout
    proc = run_cli("library", "search", "x", "--name", "clilib")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "unknown library 'clilib'" in proc.stderr


def test_source_record_shape():
    s = Source(id="p", title="T", score=0.5, text="passage", page=3)
    assert s.model_dump(exclude_none=True) == {"id": "p", "title": "T", "score": 0.5, "text": "passage", "page": 3}


# ----------------------------------------------------------------------------- grounded runs

QUESTION = "How do sulfur vacancies change the gap of monolayer MoS2?"


def test_grounded_run_sources_novelty_and_prompt(papers):
    from hypofinder.pipeline import HypothesisFinder

    finder = HypothesisFinder(
        "fake", contexts=2, validate=False, cache=False, library=papers, rounds=0, tournament=False
    )
    report = finder.find(QUESTION)
    assert report.run.library == papers and "ground" in report.run.step_seconds
    for ctx in report.contexts:
        assert ctx.sources and ctx.sources[0].id == "mos2-vs-gap"
        assert [s.score for s in ctx.sources] == sorted((s.score for s in ctx.sources), reverse=True)
        assert ctx.novelty is not None and 0.0 <= ctx.novelty.score <= 1.0 and ctx.novelty.closest_id
    generator_prompts = [p for p in finder.llm.chat_model.prompts if "Task: answer the question" in p]
    assert len(generator_prompts) == 2
    assert all("[S1] Sulfur vacancies narrow the band gap of monolayer MoS2 (2021):" in p for p in generator_prompts)
    from hypofinder.render import to_markdown

    markdown = to_markdown(report)
    assert markdown.count("  [S1] Sulfur vacancies narrow the band gap of monolayer MoS2 (mos2-vs-gap; score") == 2
    assert markdown.count("Novelty against the library: ") == 2

    plain = HypothesisFinder("fake", contexts=1, validate=False, cache=False)
    report = plain.find(QUESTION)
    assert report.contexts[0].sources == [] and report.contexts[0].novelty is None and report.run.library is None
    prompt = next(p for p in plain.llm.chat_model.prompts if "Task: answer the question" in p)
    assert "[S1]" not in prompt and "Sources from" not in prompt


def test_grounded_run_flags_bad_citations(papers):
    from hypofinder.llm.providers import FakeChatModel
    from hypofinder.llm.registry import Provider, register, unregister
    from hypofinder.pipeline import HypothesisFinder

    answer = {
        "summary": "Sulfur vacancies add in-gap states that narrow the optical gap of monolayer MoS2 [S1].",
        "statement": "Garnet solid electrolytes stop lithium dendrites from shorting batteries [S1].",
        "rationale": "A study nobody retrieved says so [S7].",
        "steps": [
            "Grow MoS2 flakes with controlled vacancy density.",
            "Measure photoluminescence spectra.",
            "Compare the gap with hybrid DFT calculations.",
        ],
        "validation_request": None,
    }
    register(
        Provider(
            name="cite-script",
            description="scripted citations",
            build=lambda spec, run: FakeChatModel(responses={"GeneratedHypothesis": answer}),
        )
    )
    try:
        report = HypothesisFinder(
            "cite-script", contexts=1, validate=False, cache=False, library=papers, rounds=0, tournament=False
        ).find(QUESTION)
    finally:
        unregister("cite-script")
    flags = {(f.ref, f.problem, f.sentence.split()[0]) for f in report.contexts[0].citation_flags}
    assert flags == {("S1", "unsupported", "Garnet"), ("S7", "unknown source", "A")}


def test_unknown_library_stops_before_any_work(papers):
    from hypofinder.pipeline import HypothesisFinder

    with pytest.raises(BadInputError, match="unknown library 'nosuch'"):
        HypothesisFinder("fake", library="nosuch")
    proc = run_cli("ask", QUESTION, "--model", "fake", "--library", "nosuch")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: unknown library 'nosuch' (known: " + proc.stderr.split("(known: ")[1].strip()
    ]
    assert proc.stdout == ""


def test_mine_with_unknown_library_stops_before_any_work(tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"id": "q1", "query": QUESTION}) + "\n")
    out = tmp_path / "out.jsonl"
    proc = run_cli("mine", str(queries), "--out", str(out), "--model", "fake", "--library", "nosuch")
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "unknown library 'nosuch'" in proc.stderr
    assert not out.exists()


def test_cli_ask_with_library_json(papers):
    proc = run_cli(
        "ask",
        QUESTION,
        "--model",
        "fake",
        "--library",
        papers,
        "--contexts",
        "3",
        "--no-validate",
        "--format",
        "json",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["run"]["library"] == papers and len(report["contexts"]) == 3
    for ctx in report["contexts"]:
        assert ctx["sources"][0]["id"] == "mos2-vs-gap"
        assert {"id", "title", "score", "text"} <= set(ctx["sources"][0])
        assert 0.0 <= ctx["novelty"]["score"] <= 1.0 and ctx["novelty"]["closest_title"]


# ----------------------------------------------------------------------------- app


def test_app_library_page_lists_searches_and_adds_uploads(papers, tmp_path):
    from streamlit.testing.v1 import AppTest

    from hypofinder.ui.library import add_uploads

    class Upload:  # what st.file_uploader hands over
        def __init__(self, name: str, data: bytes):
            self.name, self.data = name, data

        def getvalue(self) -> bytes:
            return self.data

    add_uploads(
        "uploaded",
        [Upload("recs.jsonl", (json.dumps({"id": "u1", "title": "Magnon transport in YIG"}) + "\n{broken\n").encode())],
    )
    assert [h.id for h in library.search("uploaded", "spin waves carry heat in garnets", k=1)] == ["u1"]

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("hypofinder/ui/pages/library.py").run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert {"papers", "uploaded"} <= set(frame["Library"]) and int(
        frame.set_index("Library").loc["papers", "Records"]
    ) == 24
    at.selectbox(key="lib_search_name").select("papers")
    at.text_input(key="lib_search_text").input("hydrogen-rich compounds superconduct under megabar pressure")
    at.run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown]
    assert any(
        m.startswith("**1. Near room-temperature superconductivity in compressed lanthanum hydride**") for m in shown
    ), shown


def test_app_finder_grounded_run_shows_sources_and_novelty(papers):
    from streamlit.testing.v1 import AppTest

    from hypofinder.ui.common import FAKE_CHOICE

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.text_area(key="hf_query").input(QUESTION)
    at.selectbox(key="hf_model").select(FAKE_CHOICE)
    at.number_input(key="hf_contexts").set_value(2)
    at.toggle(key="hf_validate").set_value(False)
    at.selectbox(key="hf_library").select(papers)
    at.run()
    at.button(key="hf_run").click()
    at.run()
    assert not at.exception, at.exception
    history = at.session_state["hf_history"]
    report = history[at.session_state["hf_open"]]["report"]
    assert report.run.library == papers and all(c.sources[0].id == "mos2-vs-gap" for c in report.contexts)
    labels = [e.label for e in at.expander]
    assert sum(label.startswith("Sources from the library (3) · novelty ") for label in labels) == 2, labels
    shown = " ".join(m.value for m in at.markdown)
    assert "**[S1]** Sulfur vacancies narrow the band gap of monolayer MoS2 (2021)" in shown
    assert "**Novelty against the library:**" in shown
