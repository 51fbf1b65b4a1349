"""Prose in LLM answers (issue 17): the sentence pattern and its grammar, one record per answer, the check after
decoding (regenerate once, then flag), the PhySH grounding block, and the real local model under the grammar."""

from __future__ import annotations

import json
import re

import pytest

from hypofinder.llm import StructuredLLM, resolve
from hypofinder.llm.providers import FakeChatModel
from hypofinder.models import (
    GeneratedHypothesis,
    Hypothesis,
    Review,
    ReviewAnswer,
    Synthesis,
    SynthesisAnswer,
)
from hypofinder.prompts import grounding_block, load_prompt
from hypofinder.proofread import ask_checked, field_problems, mentions_subject, prose_fields, subject_words
from hypofinder.quality import SENTENCE_PATTERN, prose_problems, sentence_pattern

PROSE = [
    "Sulfur vacancies in MoS2 narrow the band gap by about 0.3 eV.",
    "Measure the critical temperature of thin YBCO films under strain, then compare with DFT (PBE) results.",
    "Domain walls in BiFeO3 conduct because oxygen vacancies gather there; this raises the local current.",
]
DEBRIS = [  # measured on main (issue 17)
    "Summary: [MoS2, WSe]dens',,",
    "The hypothesis holds",
    "'quantum inscribing'",
    "],",
    'stsymbols:", "x',
    "Use {the} model.",
]


@pytest.mark.parametrize("text", PROSE)
def test_sentence_pattern_and_prose_check_accept_prose(text):
    assert re.match(SENTENCE_PATTERN, text)
    assert prose_problems(text) == []


@pytest.mark.parametrize("text", DEBRIS)
def test_sentence_pattern_rejects_debris(text):
    assert not re.match(SENTENCE_PATTERN, text)
    assert prose_problems(text)


def test_a_runaway_word_cannot_be_decoded():
    # measured: unbounded words let SmolLM2 write one "word" until max_tokens, leaving no JSON at all
    assert not re.match(SENTENCE_PATTERN, "Steps 1 RepRepRewRefDraftRefIvEVBXFdL3SZYT4JM5KEL7AQHN9G8CDFUO026 here.")
    assert re.match(SENTENCE_PATTERN, "Magnetoelectric heterostructures switch at 0.25 GPa and 300 K.")


def test_citation_markers_only_where_the_prompt_has_something_to_cite():
    cited = "Sulfur vacancies in MoS2 narrow the band gap by about 0.3 eV [E1]."
    assert not re.match(SENTENCE_PATTERN, cited)  # plain questions: no marker can be decoded
    assert re.match(sentence_pattern("E"), cited) and not re.match(sentence_pattern("S"), cited)
    assert re.match(sentence_pattern("ES"), "Vacancies [S1] narrow the gap [E2].")
    required = sentence_pattern("E", cite="E")
    assert re.match(required, cited)
    assert not re.match(required, "Sulfur vacancies in MoS2 narrow the band gap by about 0.3 eV.")
    # the schemas: facts -> the rationale must end by citing one; sources only -> [S] markers may appear
    from hypofinder.prompts import PlainHypothesis, constrained

    with_facts = constrained(GeneratedHypothesis, facts=True, sources=False).model_json_schema()["properties"]
    assert with_facts["rationale"]["pattern"] == required
    assert with_facts["statement"]["pattern"] == sentence_pattern("E")
    with_sources = constrained(PlainHypothesis, facts=False, sources=True).model_json_schema()
    assert with_sources["title"] == "GeneratedHypothesis" and "validation_request" not in with_sources["properties"]
    assert with_sources["properties"]["steps"]["items"]["pattern"] == sentence_pattern("S")
    plain = constrained(PlainHypothesis, facts=False, sources=False).model_json_schema()["properties"]
    assert plain["statement"]["pattern"] == SENTENCE_PATTERN  # nothing to cite: no marker
    assert plain["steps"]["minItems"] == plain["steps"]["maxItems"] == 3  # the tiny profile: exactly three


def test_statement_starts_with_its_subject_where_subjects_are_given():
    from hypofinder.quality import subject_openings

    opening = sentence_pattern(opening=subject_openings(("Domain walls", "Magnetic domain walls", "Bad (label)")))
    assert re.match(opening, "Domain walls raise the resistivity of ferromagnets.")
    assert re.match(opening, "The magnetic domain walls scatter conduction electrons.")
    assert not re.match(opening, "Electrons scatter at domain walls in iron.")  # names it, but not first
    assert not re.match(opening, "domain walls raise the resistivity of ferromagnets.")
    assert not re.match(opening, "The Domain walls raise the resistivity of ferromagnets.")
    from hypofinder.prompts import PlainHypothesis, constrained

    schema = constrained(PlainHypothesis, subjects=("Domain walls",)).model_json_schema()["properties"]
    assert schema["statement"]["pattern"] == sentence_pattern(opening=("The domain walls", "Domain walls"))
    assert schema["rationale"]["pattern"] == SENTENCE_PATTERN  # only the statement
    assert prose_fields(constrained(PlainHypothesis, subjects=("Domain walls",))) == prose_fields(PlainHypothesis)


def test_a_citation_of_something_not_given_is_flagged():
    answer = ReviewAnswer(
        text="The claim rests on the gap narrowing reported in [S2].",
        rubric={"novelty": 1, "plausibility": 1, "testability": 1, "specificity": 1},
        score=5,
    )
    assert "cites a fact or source it was not given" in field_problems(answer, source="[S1] a passage")["text"]
    assert field_problems(answer, source="[S1] one; [S2] another") == {}


def test_prose_check_knows_physics_words_and_rejects_junk_words():
    assert prose_problems("Antiferromagnetic skyrmions stabilise ferroelectric heterostructures.") == []
    assert "not mostly words" in prose_problems("Wodmge xqzt plorb vrrk nfth.")


def test_answer_schemas_become_a_llama_grammar():
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    from hypofinder.llm.schemas import grammar_friendly

    for schema in (GeneratedHypothesis, ReviewAnswer, SynthesisAnswer):
        gbnf = json_schema_to_gbnf(json.dumps(grammar_friendly(schema.model_json_schema())))
        assert "\\." not in gbnf  # an escape llama.cpp's GBNF parser rejects
        LlamaGrammar.from_string(gbnf, verbose=False)  # parses


def test_report_records_are_the_answers_plus_report_fields():
    for answer, record in ((GeneratedHypothesis, Hypothesis), (ReviewAnswer, Review), (SynthesisAnswer, Synthesis)):
        assert issubclass(record, answer)
        report_only = {"quality_flags", "validation", "model_score", "model_rubric", "checks"}
        assert set(record.model_fields) - set(answer.model_fields) <= report_only
        assert "quality_flags" not in answer.model_json_schema()["properties"]  # the model never writes flags
    assert prose_fields(GeneratedHypothesis) == ["summary", "statement", "rationale", "steps"]
    assert prose_fields(ReviewAnswer) == ["text"]
    # the pattern steers decoding but never rejects a server's answer: weak text is flagged instead
    assert GeneratedHypothesis(summary="x", statement="y", rationale="z", steps=["a", "b", "c"]).statement == "y"


GOOD = {
    "summary": "Cuprate superconductors lose their pairing above a critical temperature set by the copper oxide planes.",
    "statement": "Stronger spin fluctuations in the copper oxide planes raise the critical temperature of cuprates.",
    "rationale": "Spin fluctuations are a likely glue for the electron pairs in these materials.",
    "steps": [
        "Measure the spin fluctuation spectrum with neutron scattering.",
        "Tune the doping of thin films and record the critical temperature.",
        "Compare both trends across several cuprate families.",
    ],
    "validation_request": None,
}
BAD = {**GOOD, "statement": "The hypothesis holds", "steps": [GOOD["steps"][0], "3. ],", GOOD["steps"][2]]}
OFF_TOPIC = {**GOOD, "statement": "Bananas ripen faster when they are stored next to apples in a warm kitchen."}
MESSAGES = [("system", "You are a physicist."), ("user", "Question: What limits the critical temperature of cuprates?")]


def _llm(*answers):
    chat = FakeChatModel(responses={"GeneratedHypothesis": list(answers)})
    return StructuredLLM(resolve("fake"), chat, temperature=0.0, seed=0)


def test_good_answer_is_asked_once():
    llm = _llm(GOOD)
    answer, flags = ask_checked(llm, MESSAGES, GeneratedHypothesis, max_tokens=300, task="g")
    assert flags == {} and answer.statement == GOOD["statement"] and llm.chat_model.calls == 1


def test_weak_fields_are_regenerated_once_with_the_reason_and_merged():
    llm = _llm(BAD, GOOD)
    answer, flags = ask_checked(llm, MESSAGES, GeneratedHypothesis, max_tokens=300, task="g")
    assert llm.chat_model.calls == 2 and flags == {}
    assert answer.statement == GOOD["statement"] and answer.steps == GOOD["steps"]
    retry_prompt = llm.chat_model.prompts[1]
    assert "statement: too short" in retry_prompt and "steps[1]" in retry_prompt


def test_what_stays_weak_is_flagged_never_passed_off():
    llm = _llm(BAD, BAD)
    answer, flags = ask_checked(llm, MESSAGES, GeneratedHypothesis, max_tokens=300, task="g")
    assert llm.chat_model.calls == 2
    assert flags["statement"] == ["too short"] and "steps[1]" in flags and "summary" not in flags


def test_off_topic_statement_is_flagged():
    subject = subject_words("What limits the critical temperature of cuprates?", "High-temperature superconductors")
    assert mentions_subject(GOOD["statement"], subject)
    assert not mentions_subject(OFF_TOPIC["statement"], subject)
    llm = _llm(OFF_TOPIC, OFF_TOPIC)
    _, flags = ask_checked(
        llm, MESSAGES, GeneratedHypothesis, max_tokens=300, task="g", subject=subject, on_topic=("statement",)
    )
    assert flags == {"statement": ["names nothing from the question or concept"]}


def test_copied_prompt_text_and_repeated_fields_are_flagged():
    copied = {**GOOD, "summary": "What limits the critical temperature of cuprates and why does it matter so much."}
    source = "Question: What limits the critical temperature of cuprates and why does it matter so much."
    flags = field_problems(
        GeneratedHypothesis.model_validate({**copied, "rationale": GOOD["statement"]}), source=source
    )
    assert flags["summary"] == ["copied from the prompt"] and flags["rationale"] == ["repeats another field"]


def test_grounding_places_the_concept_in_physh():
    from hypofinder.ontology import get_concept

    concept = get_concept("Superconductivity")
    block = grounding_block(concept, ["Cuprates"])
    assert "Includes: " in block and block.endswith("\n")
    assert any(c.label in block for c in concept.narrower[:4])
    assert "Cuprates" in block
    assert grounding_block(None, []) == ""
    msgs = load_prompt("generator").messages(
        role="R", framework="F", concept="Superconductivity", query="Q?", grounding=block
    )
    assert block in msgs[1][1]
    plain = load_prompt("generator").messages(role="R", framework="F", concept="C", query="Q?")  # blocks optional
    assert "Concept: C\nTask:" in plain[1][1]


def test_pipeline_reports_flags_and_grounds_the_generator():
    from hypofinder.pipeline import HypothesisFinder
    from tests.scripted import scripted_model

    with scripted_model({"GeneratedHypothesis": [BAD, BAD]}) as name:
        finder = HypothesisFinder(name, contexts=1, validate=False, cache=False, rounds=0, tournament=False)
        report = finder.find("What limits the critical temperature of cuprate superconductors?")
    ctx = report.contexts[0]
    assert "too short" in ctx.hypothesis.quality_flags["statement"]
    assert ctx.quality_flags["hypothesis.statement"] == ctx.hypothesis.quality_flags["statement"]
    assert report.run.llm_calls == 4  # generate twice, review once, synthesize once
    assert "Part of: " in finder.llm.chat_model.prompts[0] or "Includes: " in finder.llm.chat_model.prompts[0]
    data = json.loads(report.model_dump_json())
    assert data["contexts"][0]["hypothesis"]["summary"] == GOOD["summary"]


@pytest.mark.slow
def test_local_model_writes_prose_under_the_grammar():
    from hypofinder.llm.providers import ChatLocalLlama, local_model_path

    chat = ChatLocalLlama(model_path=local_model_path(), n_ctx=2048, temperature=0.7, seed=7)
    llm = StructuredLLM(resolve("local"), chat, temperature=0.7, seed=7)
    messages = load_prompt("reviewer").messages(
        query="What limits the critical temperature of cuprate superconductors?",
        role="Experimental Physicist",
        framework="Condensed Matter Physics",
        concept="High-temperature superconductors",
        statement=GOOD["statement"],
        rationale=GOOD["rationale"],
        steps=" ".join(GOOD["steps"]),
        evidence="",
    )
    answer = llm.ask(messages, ReviewAnswer, max_tokens=300, task="review")
    assert re.match(SENTENCE_PATTERN, answer.text), answer.text  # the grammar admits prose only
    assert 0 <= answer.score <= 100
