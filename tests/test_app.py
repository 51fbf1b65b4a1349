"""The Streamlit app through Streamlit's AppTest: every page and control, real pipeline (fake LLM),
real PhySH index, real defect predictor and 2DMD structures."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hypofinder.models import HypothesisReport
from hypofinder.render import context_title
from hypofinder.settings import settings
from hypofinder.ui import SEED_QUESTION
from hypofinder.ui.common import FAKE_CHOICE, LOCAL_CHOICE, OPENAI_CHOICE, model_choices
from tests.servers import free_port

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ONTOLOGY_PAGE, DEFECTS_PAGE = "hypofinder/ui/pages/ontology.py", "hypofinder/ui/pages/defects.py"
TIMEOUT = 180  # seconds per script run (first runs load the embedding model and build the index)


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(
    at: AppTest,
    question: str,
    model: str = FAKE_CHOICE,
    contexts: int = 3,
    validate: bool = True,
    model_name: str | None = None,
    base_url: str | None = None,
) -> AppTest:
    at.text_area(key="hf_query").input(question)
    at.selectbox(key="hf_model").select(model)
    at.number_input(key="hf_contexts").set_value(contexts)
    at.toggle(key="hf_validate").set_value(validate)
    at.run()
    if model_name is not None:
        at.text_input(key="hf_model_name").input(model_name)
    if base_url is not None:
        at.text_input(key="hf_base_url").input(base_url)
    at.button(key="hf_run").click()
    at.run()
    assert not at.exception, at.exception
    return at


def shown_report(at: AppTest) -> HypothesisReport:
    history = at.session_state["hf_history"]
    return history[at.session_state["hf_open"]]["report"]


def table(at: AppTest, column: str):
    """The first st.dataframe holding ``column`` (dataframes without selection carry no key)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# ----------------------------------------------------------------------------- hypothesis finder
def test_finder_controls():
    at = new_app()
    assert at.title[0].value == "Hypothesis finder"
    assert at.text_area(key="hf_query").label == "Enter your question"
    n = at.number_input(key="hf_contexts")
    assert (n.label, n.min, n.max, n.value) == ("Number of contexts", 1, 10, 3)
    t = at.slider(key="hf_temperature")
    assert (t.label, t.min, t.max) == ("Generator temperature", 0.0, 1.0)
    assert at.selectbox(key="hf_model").options == [LOCAL_CHOICE, OPENAI_CHOICE, FAKE_CHOICE]
    assert at.toggle(key="hf_validate").value is True
    assert at.button(key="hf_run").label == "Run"
    # The endpoint fields appear only for the OpenAI-compatible choice.
    assert not [w for w in at.text_input if w.key in ("hf_model_name", "hf_base_url")]
    at.selectbox(key="hf_model").select(OPENAI_CHOICE).run()
    assert [w.label for w in at.text_input] == ["Model name", "Base URL"]
    # The example button fills the seed question.
    at.button(key="hf_example").click().run()
    assert at.text_area(key="hf_query").value == SEED_QUESTION
    assert not at.error and "hf_history" not in at.session_state


def test_fake_run_shows_contexts_scores_and_json():
    at = ask(new_app(), SEED_QUESTION, contexts=3, validate=True)
    assert not errors(at)
    report = shown_report(at)
    assert report.query == " ".join(SEED_QUESTION.split()) and report.run.provider == "fake"
    assert len(report.contexts) == 3 and report.run.validate_enabled
    # Progress box ended as complete, naming the count.
    assert at.status[0].state == "complete" and "Found 3 hypotheses" in at.status[0].label
    # Seed layout: "Context i. Role / Framework::Concept / score", then Representation and Hypothesis.
    heads = [h.value for h in at.subheader if h.value != "Ranking"]
    titles = [context_title(i, r) for i, r in enumerate(report.contexts, 1)]
    assert heads[:4] == titles + ["Representation and Hypothesis"]
    text = "\n".join(m.value for m in at.markdown)
    for r in report.contexts:
        assert f"**Summary.** {r.summary}" in text and f"**Review.** {r.review.text}" in text
    shown = [(m.label, m.value) for m in at.metric if m.label in ("Score", "Rank score")]
    assert shown == [  # with a tournament (the fake model's default) the rank score, else the review score
        ("Rank score", f"{r.rank_score:.0f}") if r.elo is not None else ("Score", str(r.review.score))
        for r in report.contexts
    ]
    bars = [p.proto.text for p in at.get("progress")]
    assert bars[0] == "Done"  # the run's progress bar, full
    bars = bars[1:]
    k = report.contexts[0].review.rubric
    assert bars[:4] == [
        f"Novelty {k.novelty}",
        f"Plausibility {k.plausibility}",
        f"Testability {k.testability}",
        f"Specificity {k.specificity}",
    ]
    # Evidence per context (the fake model emits no request: the bridge reads the text and says why).
    ev = [e.label for e in at.expander if e.label.startswith("Predictor evidence")]
    assert ev[:3] == [f"Predictor evidence: {r.validation.verdict}" for r in report.contexts]
    steps = "\n".join(f"{j}. {s}" for j, s in enumerate(report.synthesis.steps, 1))
    assert steps in text
    # Overview table, full JSON, downloads.
    overview = table(at, "Rank score")
    assert list(overview["Score"]) == [r.review.score for r in report.contexts]
    assert "Full result (JSON)" in [e.label for e in at.expander]
    assert HypothesisReport.model_validate_json(at.json[0].value) == report
    assert [b.label for b in at.download_button] == ["Download JSON", "Download Markdown", "Download contexts (CSV)"]
    # Rerunning (any widget change) keeps the result on screen.
    at.slider(key="hf_temperature").set_value(0.3).run()
    assert "Representation and Hypothesis" in [h.value for h in at.subheader]


def test_no_validation_run_and_history_reopen():
    at = ask(new_app(), "How do domain walls change electronic transport in magnets?", contexts=1, validate=False)
    first = shown_report(at)
    assert len(first.contexts) == 1 and first.contexts[0].validation is None and not first.run.validate_enabled
    assert not [e for e in at.expander if e.label.startswith("Predictor evidence")]
    at = ask(at, "Which defects control the band gap of 2D semiconductors?", contexts=2, validate=False)
    assert len(shown_report(at).contexts) == 2
    history = [b for b in at.sidebar.button if b.key.startswith("hf_hist_") and b.key != "hf_hist_clear"]
    assert [b.key for b in history] == ["hf_hist_1", "hf_hist_0"]  # newest first
    at.button(key="hf_hist_0").click().run()
    assert shown_report(at) is at.session_state["hf_history"][0]["report"]
    assert [h.value for h in at.subheader if h.value != "Ranking"][0] == context_title(1, first.contexts[0])
    assert "domain walls" in at.markdown[[m.value.startswith("**Question.**") for m in at.markdown].index(True)].value
    at.button(key="hf_hist_clear").click().run()
    assert at.session_state["hf_history"] == [] and "Results" not in [h.value for h in at.header]


@pytest.mark.parametrize("question", ["", "   \n  "])
def test_empty_question_is_one_message(question):
    at = ask(new_app(), question)
    assert errors(at) == ["the question is empty"]
    assert not at.status and "Results" not in [h.value for h in at.header]


def test_too_long_question_is_one_message():
    at = ask(new_app(), "defects " * 400)
    assert len(errors(at)) == 1 and "too long" in errors(at)[0]


@pytest.mark.parametrize(
    "model_name, base_url, message",
    [
        ("my-model", "not a url", "http(s) URL"),
        ("my-model", "ftp://example.org/v1", "http(s) URL"),
        ("", "http://127.0.0.1:8000/v1", "model name"),
        ("my-model", "", "base URL"),
    ],
)
def test_bad_endpoint_settings_are_one_message(model_name, base_url, message):
    at = ask(new_app(), SEED_QUESTION, model=OPENAI_CHOICE, model_name=model_name, base_url=base_url)
    assert len(errors(at)) == 1 and message in errors(at)[0], errors(at)
    assert "hf_history" not in at.session_state


def test_unreachable_endpoint_is_one_message():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    at = ask(
        new_app(),
        "Point defects in MoS2 and the band gap",
        model=OPENAI_CHOICE,
        contexts=1,
        model_name="served-model",
        base_url=url,
        validate=False,
    )
    assert len(errors(at)) == 1 and "Traceback" not in errors(at)[0]
    assert at.status[0].state == "error"
    assert "hf_history" not in at.session_state


def test_unexpected_error_is_a_short_message_not_a_traceback():
    def app():
        from hypofinder.errors import BadInputError
        from hypofinder.ui.common import guarded

        with guarded("The demo"):
            raise ZeroDivisionError("secret internals")
        with guarded("The other demo"):
            raise BadInputError("one clear line")

    at = AppTest.from_function(app).run()
    assert not at.exception
    assert errors(at) == [
        "The demo failed unexpectedly (ZeroDivisionError). The details are in the server log.",
        "one clear line",
    ]


def test_progress_lines_and_bar_follow_the_pipeline_steps():
    from hypofinder.pipeline import HypothesisFinder, Progress
    from hypofinder.ui.progress import describe, fraction

    events: list[Progress] = []
    report = HypothesisFinder("fake", contexts=2, validate=False, cache=False).find(
        "Magnetic domain walls and electronic transport", events.append
    )
    bars = [fraction(p) for p in events]
    assert bars == sorted(bars) and bars[0] == 0.0 and bars[-1] == 1.0  # the bar never goes back
    lines = [describe(p, validate=False) for p in events]
    labels = {r.concepts[0].label for r in report.contexts}
    gen = [line for line in lines if line.endswith("generating a hypothesis")]
    assert [line.split(" (")[0] for line in gen] == ["Context 1 of 2", "Context 2 of 2"]
    assert {line.split(" (", 1)[1].split("):")[0] for line in gen} == labels  # names the context's concept
    assert sum(line.endswith("validation is off, skipping") for line in lines) == 2
    assert lines[0] == "Searching PhySH for role-based contexts" and lines[-1] == "Done"


def test_model_choices_map_to_pipeline_models():
    from hypofinder.llm import resolve

    choices = model_choices()
    assert resolve(choices[LOCAL_CHOICE]).provider == "local"
    assert resolve(choices[FAKE_CHOICE]).provider == "fake"
    assert choices[OPENAI_CHOICE] is None


# ----------------------------------------------------------------------------- evidence table and plot
@pytest.fixture(scope="module")
def evidence_report() -> HypothesisReport:
    """A real pipeline run whose (scripted) hypotheses make a defect claim the predictor checks."""
    from hypofinder.pipeline import HypothesisFinder
    from tests.scripted import scripted_model

    gen = {
        "summary": "Sulfur vacancy pairs in MoS2 change the electronic gap as they cluster.",
        "statement": "The HOMO-LUMO gap of MoS2 with two S vacancies increases as the vacancies move apart.",
        "rationale": "Clustered vacancies hybridize their in-gap states and narrow the gap.",
        "steps": [
            "Build 8x8 MoS2 supercells with two S vacancies",
            "Vary the S vacancy pair distance",
            "Predict the gap with the defect-graph model",
        ],
        "validation_request": {
            "host": "MoS2",
            "defects": ["vS", "vS"],
            "variable": "pair_distance",
            "direction": "increases",
            "target": "homo_lumo_gap",
        },
    }
    with scripted_model({"GeneratedHypothesis": gen}) as model:  # the same draft twice: kept, not revised or merged
        finder = HypothesisFinder(model, contexts=2, validate=True, cache=False, rounds=0, tournament=False)
    report = finder.find("How do sulfur vacancy pairs change the band gap of MoS2 monolayers?")
    assert all(r.validation.predictions for r in report.contexts), [r.validation.summary for r in report.contexts]
    return report


def test_evidence_frame_and_chart_follow_the_predictions(evidence_report):
    from hypofinder.ui.results import evidence_chart, evidence_frame

    v = evidence_report.contexts[0].validation
    df = evidence_frame(v)
    assert list(df["Configuration"]) == [p.label for p in v.predictions]
    assert list(df["Gap (eV)"]) == [p.homo_lumo_gap for p in v.predictions]
    assert list(df["Defect pair distance (Å)"]) == [p.variable_value for p in v.predictions]
    spec = evidence_chart(v).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert "errorbar" in marks and "circle" in marks
    rows = next(iter(spec["datasets"].values()))
    for row, p in zip(rows, v.predictions, strict=True):
        assert row["x"] == p.variable_value and row["lo"] == pytest.approx(p.homo_lumo_gap - p.homo_lumo_gap_std)
        assert row["hi"] == pytest.approx(p.homo_lumo_gap + p.homo_lumo_gap_std)
    assert "HOMO-LUMO gap (eV)" in json.dumps(spec, ensure_ascii=False)
    assert "Defect pair distance (Å)" in json.dumps(spec, ensure_ascii=False)


def test_history_entry_shows_evidence_table_and_plot(evidence_report):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["hf_history"] = [{"report": evidence_report, "when": "12:00:00", "model": FAKE_CHOICE}]
    at.session_state["hf_open"] = 0
    at.run()
    assert not at.exception and not at.error
    v = evidence_report.contexts[0].validation
    assert list(table(at, "Configuration")["Configuration"]) == [p.label for p in v.predictions]
    charts = [c for c in at.get("vega_lite_chart")]
    assert len(charts) >= len(evidence_report.contexts)
    assert any(f"Predictor evidence: {v.verdict}" == e.label for e in at.expander)
    assert v.summary in "\n".join(m.value for m in at.markdown)


# ----------------------------------------------------------------------------- ontology explorer
def test_ontology_search_filters_and_concept_details():
    from hypofinder import ontology

    at = new_app()
    at.switch_page(ONTOLOGY_PAGE).run()
    assert at.title[0].value == "Ontology explorer" and not at.error
    assert not at.dataframe  # nothing searched yet
    at.text_input(key="onto_query").input("domain walls").run()
    hits = table(at, "Framework")
    expected = ontology.search("domain walls", k=10)
    assert list(hits["Concept"]) == [h.label for h in expected]
    assert list(hits["Role"]) == [h.role for h in expected]
    top = ontology.get_concept(expected[0].id)
    assert at.subheader[0].value == top.label
    text = "\n".join(m.value for m in at.markdown)
    for name, value in (
        ("Facet", top.facet),
        ("Discipline", top.discipline),
        ("Role", top.role),
        ("Framework", top.framework),
    ):
        assert f"**{name}**  \n{value}" in text
    # Broader / narrower are buttons that open the neighbour.
    assert top.broader, "the test needs a concept with a broader one"
    broader = top.broader[0]
    at.button(key=f"onto_Broader_{broader.id}").click().run()
    assert at.subheader[0].value == broader.label
    assert top.label in [b.label for b in at.button if b.key.startswith("onto_Narrower_")]
    # Picking another hit shows it.
    at.selectbox(key="onto_pick").select(2).run()
    assert at.subheader[0].value == expected[2].label
    # Facet filter: every hit carries it.
    at.selectbox(key="onto_facet").select("Physical Systems").run()
    assert set(table(at, "Framework")["Facet"]) == {"Physical Systems"}


def test_ontology_lookup_by_label_and_bad_label():
    at = new_app()
    at.switch_page(ONTOLOGY_PAGE).run()
    at.text_input(key="onto_lookup").input("Magnetic domains").run()
    assert at.subheader[0].value == "Magnetic domains" and not at.error
    at.text_input(key="onto_lookup").input("Magnetic domainz").run()
    assert len(errors(at)) == 1 and "no PhySH concept" in errors(at)[0] and "Magnetic domains" in errors(at)[0]


# ----------------------------------------------------------------------------- defect predictor
@pytest.fixture(scope="module")
def mos2_cifs() -> list[tuple[str, bytes]]:
    """Two real 2DMD structures (low-density MoS2) with different defect counts."""
    path = settings().require(settings().dmd_dir / "low_MoS2" / "structures.tar.gz", "2DMD low_MoS2 structures")
    out = []
    with tarfile.open(path) as tf:
        for m in tf:
            if m.isfile() and m.name.endswith(".cif"):
                out.append((Path(m.name).name, tf.extractfile(m).read()))
            if len(out) == 12:
                break
    from hypofinder.defects import defect_graph

    by_count = {}
    for name, data in out:
        by_count.setdefault(defect_graph(data.decode(), "MoS2").n_defects, (name, data))
    assert len(by_count) >= 2, "need structures with different defect counts"
    return [by_count[k] for k in sorted(by_count)][-2:]


def test_defect_page_predicts_uploads_and_draws_the_graph(mos2_cifs):
    from hypofinder.defects import DefectPredictor, defect_graph

    at = new_app()
    at.switch_page(DEFECTS_PAGE).run()
    assert at.title[0].value == "Defect predictor" and not at.error
    assert at.selectbox(key="df_host").options[0] == "Detect from the structure"
    assert "MoS2" in at.selectbox(key="df_host").options
    files = [(name, data, "chemical/x-cif") for name, data in mos2_cifs]
    files.append(("junk.cif", b"not a cif", "chemical/x-cif"))
    at.file_uploader(key="df_files").set_value(files).run()
    assert not at.exception
    preds = table(at, "File")
    assert list(preds["File"]) == [f[0] for f in files]
    expected = DefectPredictor.load().predict([d.decode() for _, d in mos2_cifs], host=None)
    for (_, row), p in zip(preds.head(2).iterrows(), expected, strict=True):
        assert row["Defects"] == " ".join(p.defects) and row["Host"] == p.host
        assert row["Gap (eV)"] == pytest.approx(p.homo_lumo_gap)
        assert row["E_f/site (eV)"] == pytest.approx(p.formation_energy_per_site)
    assert len(errors(at)) == 1 and errors(at)[0].startswith("junk.cif: ")
    # Defect graph of the structure with more defects: n nodes, n(n-1)/2 pairs.
    at.selectbox(key="df_pick").select(1).run()
    g = defect_graph(mos2_cifs[1][1].decode(), "MoS2")
    assert len(table(at, "Site")) == g.n_defects
    edges = table(at, "Distance (Å)")
    assert len(edges) == g.n_defects * (g.n_defects - 1) // 2
    src, dst = g.edge_index
    assert sorted(edges["Distance (Å)"]) == pytest.approx(sorted(g.distance[src < dst]))
    assert at.get("vega_lite_chart")


def test_defect_page_wrong_host_is_a_per_file_message(mos2_cifs):
    at = new_app()
    at.switch_page(DEFECTS_PAGE).run()
    at.selectbox(key="df_host").select("WSe2")
    at.file_uploader(key="df_files").set_value([(mos2_cifs[0][0], mos2_cifs[0][1], "chemical/x-cif")]).run()
    assert not at.exception
    assert len(errors(at)) == 1 and errors(at)[0].startswith(mos2_cifs[0][0] + ": ")
    assert not at.get("vega_lite_chart")


# ----------------------------------------------------------------------------- one question per property
PROPERTY_QUESTIONS = {
    "formation_energy_per_site": "How does the formation energy of monolayer h-BN change as boron vacancies accumulate?",
    "homo_lumo_gap": "How does the band gap of monolayer h-BN change as the number of boron vacancies grows?",
    "homo": "How does the HOMO level of monolayer h-BN move as the number of boron vacancies grows?",
    "lumo": "How does the LUMO level of monolayer h-BN move as the number of boron vacancies grows?",
    "magnetization": "How does the magnetization of monolayer h-BN change as the number of boron vacancies grows?",
}


@pytest.mark.parametrize("target", list(PROPERTY_QUESTIONS))
def test_report_on_each_property_draws_every_chart_in_its_unit(target):
    """E_f, gap, HOMO, LUMO and magnetization of h-BN: the planned facts, their tables and charts, in μB for
    magnetization and eV for the rest (the app used to raise KeyError on magnetization)."""
    from hypofinder.prediction import spec

    at = ask(new_app(), PROPERTY_QUESTIONS[target], contexts=1)
    assert not at.exception and not errors(at)
    report = shown_report(at)
    ev = report.contexts[0].evidence
    assert ev.target == target and ev.facts and all(f.predictions for f in ev.facts)
    ps = spec(target)
    assert ps.unit == ("μB" if target == "magnetization" else "eV")
    other = "eV" if target == "magnetization" else "μB"
    for f in ev.facts:
        claim = f.summary.split("; ")[0]  # the target's own sentence (the companion property follows)
        assert ps.title in claim and ps.unit in claim and other not in claim, claim
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    axes = [[layer["encoding"]["y"].get("title") for layer in c["layer"] if "y" in layer["encoding"]] for c in charts]
    drawn = [a for a in axes if ps.label in a]  # a planned fact's chart: the target, in its unit, on the y axis
    assert len(drawn) == len(ev.facts), axes
    assert all(other not in title for a in drawn for title in a if title)
    planned = table(at, "Fact")
    assert list(planned[ps.header()]) == [ps.of(p)[0] for f in ev.facts for p in f.predictions]
