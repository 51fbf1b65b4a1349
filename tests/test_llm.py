"""LLM room: tokens, providers, structured output, repair/retry, cache — against real servers on loopback."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError, LLMError
from hypofinder.llm import StructuredLLM, resolve
from hypofinder.llm.cache import AnswerCache
from hypofinder.llm.providers import FakeChatModel
from hypofinder.llm.schemas import grammar_friendly
from hypofinder.llm.structured import repair_json
from hypofinder.llm.tokens import count_tokens, seed_tiktoken_cache, truncate_to_tokens
from hypofinder.prompts import GeneratedHypothesis, ReviewAnswer, SynthesisAnswer
from hypofinder.settings import RunConfig
from tests.servers import free_port, llama_server, scripted_server


class Small(BaseModel):
    answer: str = Field(min_length=2, max_length=80)
    score: int = Field(ge=0, le=100)


GOOD = json.dumps({"answer": "vacancies narrow the gap", "score": 71})
MESSAGES = [("system", "You answer in JSON."), ("user", "Question: do S vacancies narrow the MoS2 gap?")]


def structured(model="fake", base_url=None, cache=None, **kw) -> StructuredLLM:
    spec = resolve(model, base_url)
    chat = spec.entry.build(
        spec, RunConfig(model=model, base_url=base_url, temperature=0.0, seed=1, timeout_s=kw.pop("timeout", 30))
    )
    return StructuredLLM(spec, chat, temperature=0.0, seed=1, cache=cache, backoff_s=0.05, **kw)


# ----------------------------------------------------------------------------- tokens


def test_tiktoken_cache_seeded_from_wheel_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    seed_tiktoken_cache()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2
    digests = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7" in digests  # cl100k_base official
    assert count_tokens("hello world") == 2
    assert count_tokens("hello world", "gpt-4o") == 2


def test_truncate_to_tokens_respects_budget():
    text = "monolayer MoS2 sulfur vacancy " * 200
    short = truncate_to_tokens(text, 50)
    assert count_tokens(short) <= 52 and short.endswith("…")
    assert truncate_to_tokens("short", 50) == "short"


# ----------------------------------------------------------------------------- specs and schemas


def test_model_specs_and_unknown_model():
    assert resolve("local").provider == "local"
    assert resolve("Fake llm (debug)").provider == "fake"
    spec = resolve("qwen", "http://127.0.0.1:9/v1")
    assert spec.provider == "openai" and spec.base_url_host == "127.0.0.1:9" and spec.is_server
    with pytest.raises(BadInputError, match="unknown model"):
        resolve("gpt-9")
    with pytest.raises(BadInputError, match="http\\(s\\) URL"):
        resolve("qwen", "ftp://x")


def test_grammar_friendly_turns_bounded_ints_into_enums():
    schema = grammar_friendly(ReviewAnswer.model_json_schema())
    assert schema["properties"]["score"]["enum"] == list(range(101))
    assert "minimum" not in schema["properties"]["score"]


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        f"Sure! ```json\n{GOOD}\n```",
        '{"answer": "vacancies narrow the gap", "score": 71,}',
        "{'answer': 'vacancies narrow the gap', 'score': 71}",
        f"Here you go: {GOOD} hope it helps",
        '{"answer": "vacancies narrow\nthe gap", "score": 71}',
    ],
)
def test_repair_json_recovers_common_damage(text):
    assert Small.model_validate(repair_json(text)).score == 71


def test_repair_json_rejects_garbage():
    with pytest.raises(ValueError):
        repair_json("I think the gap decreases.")


# ----------------------------------------------------------------------------- fake model + cache


@pytest.mark.parametrize("schema", [GeneratedHypothesis, ReviewAnswer, SynthesisAnswer])
def test_fake_model_answers_every_pipeline_schema_deterministically(schema):
    a = structured().ask(MESSAGES, schema, max_tokens=300, task="t")
    b = structured().ask(MESSAGES, schema, max_tokens=300, task="t")
    assert a == b and isinstance(a, schema)


def test_cache_serves_repeat_without_model_call(tmp_path):
    cache = AnswerCache(tmp_path / "c.sqlite")
    llm = structured(cache=cache)
    first = llm.ask(MESSAGES, Small, max_tokens=50, task="t")
    calls, inside = llm.chat_model.calls, llm.usage.seconds
    second = llm.ask(MESSAGES, Small, max_tokens=50, task="t")
    assert first == second and llm.chat_model.calls == calls
    assert inside > 0 and llm.usage.seconds == inside  # time inside the model: a cache hit adds none
    assert llm.usage.llm_calls == 1 and llm.usage.cache_hits == 1 and len(cache) == 1
    other = llm.ask([*MESSAGES[:1], ("user", "another question")], Small, max_tokens=50, task="t")
    assert llm.chat_model.calls == calls + 1 and isinstance(other, Small)


def test_prompt_budget_truncates_long_context():
    llm = structured(n_ctx=300)
    long = [("system", "s"), ("user", "Question: " + "phase domain walls " * 500)]
    fitted = llm._fit(long, max_tokens=100)
    assert count_tokens(fitted[1][1]) < 200
    with pytest.raises(LLMError, match="window"):
        structured(n_ctx=120)._fit([("system", "x " * 200), ("user", "y")], max_tokens=100)


def test_fake_scripted_responses_are_served():
    chat = FakeChatModel(responses={"Small": {"answer": "scripted!", "score": 5}})
    spec = resolve("fake")
    llm = StructuredLLM(spec, chat, temperature=0, seed=0)
    assert llm.ask(MESSAGES, Small, max_tokens=50, task="t").answer == "scripted!"


# ----------------------------------------------------------------------------- OpenAI-compatible servers


def test_openai_path_repairs_fenced_json_first_try():
    with scripted_server([f"```json\n{GOOD[:-1]},}}\n```"]) as (url, requests):
        ans = structured("scripted", url).ask(MESSAGES, Small, max_tokens=50, task="t")
    assert ans.score == 71 and len(requests) == 1
    assert requests[0]["response_format"]["type"] == "json_schema"


def test_openai_path_retries_after_garbage_then_succeeds():
    with scripted_server(["no json here, sorry", GOOD]) as (url, requests):
        llm = structured("scripted", url)
        ans = llm.ask(MESSAGES, Small, max_tokens=50, task="t")
    assert ans.answer.startswith("vacancies") and len(requests) == 2
    assert "not valid JSON" in requests[1]["messages"][-1]["content"]
    assert llm.usage.llm_calls == 2


def test_answer_cut_off_at_the_token_limit_is_reasked_not_fatal():
    with scripted_server([(GOOD[:20], "length"), GOOD]) as (url, requests):
        llm = structured("scripted", url)
        ans = llm.ask(MESSAGES, Small, max_tokens=50, task="t")
    assert ans.score == 71 and len(requests) == 2 and llm.usage.llm_calls == 2
    assert requests[0]["max_tokens"] == 50 and "max_completion_tokens" not in requests[0]  # any server reads it
    assert "50-token limit" in requests[1]["messages"][-1]["content"]


def test_openai_path_gives_clear_error_after_bounded_retries():
    with scripted_server(["still not json"]) as (url, requests):
        with pytest.raises(LLMError, match="no valid JSON after 3 attempts"):
            structured("scripted", url, max_retries=2).ask(MESSAGES, Small, max_tokens=50, task="t")
    assert len(requests) == 3


def test_openai_path_falls_back_when_response_format_unsupported():
    with scripted_server([GOOD], reject_response_format=True) as (url, requests):
        llm = structured("scripted", url)
        assert llm.ask(MESSAGES, Small, max_tokens=50, task="t").score == 71
        llm.ask([*MESSAGES, ("user", "again")], Small, max_tokens=50, task="t")
    kinds = [r.get("response_format", {}).get("type") for r in requests]
    assert kinds == ["json_schema", "json_object", None, None]  # remembered after the first discovery
    assert "JSON schema" in requests[2]["messages"][-1]["content"]


def test_server_down_is_one_clear_error():
    port = free_port()
    with pytest.raises(LLMError, match=f"cannot reach model server at 127.0.0.1:{port}"):
        structured("m", f"http://127.0.0.1:{port}/v1", max_retries=1).ask(MESSAGES, Small, max_tokens=50, task="t")


def test_timeout_is_one_clear_error():
    with scripted_server([GOOD], delay_s=3) as (url, requests):
        with pytest.raises(LLMError, match="timed out"):
            structured("m", url, timeout=0.5, max_retries=1).ask(MESSAGES, Small, max_tokens=50, task="t")
    assert len(requests) == 2  # one retry with backoff


def test_api_key_never_reaches_cache_or_errors(tmp_path, monkeypatch):
    secret = "sk-test-SECRET-do-not-leak-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    cache = AnswerCache(tmp_path / "c.sqlite")
    with scripted_server([GOOD]) as (url, _):
        structured("m", url, cache=cache).ask(MESSAGES, Small, max_tokens=50, task="t")
    assert secret.encode() not in (tmp_path / "c.sqlite").read_bytes()
    port = free_port()
    with pytest.raises(LLMError) as err:
        structured("m", f"http://127.0.0.1:{port}/v1", max_retries=0).ask(MESSAGES, Small, max_tokens=50, task="t")
    assert secret not in str(err.value)


@pytest.mark.slow
def test_real_llama_server_with_schema_enforcement():
    """python -m llama_cpp.server: OpenAI json_schema is rejected, llama.cpp's json_object+schema enforces it."""
    with llama_server() as url:
        llm = structured("smollm2", url, timeout=120)
        ans = llm.ask(MESSAGES, Small, max_tokens=80, task="t")
        # the answer budget reaches the server (it ignores ChatOpenAI's max_completion_tokens and then decodes
        # until its context is full)
        story = structured("smollm2", url, timeout=120)
        story.ask_text([("user", "Tell a very long story about a cat, in many chapters.")], max_tokens=12, task="t")
    assert 0 < story.usage.completion_tokens <= 12
    assert isinstance(ans, Small) and 0 <= ans.score <= 100
    assert llm.modes.current in ("json_schema", "json_object") and llm.modes.confirmed
    assert llm.usage.llm_calls == 1  # schema-constrained: valid on the first answer


@pytest.mark.slow
def test_real_local_model_structured_answer():
    llm = structured("local", n_ctx=2048)
    ans = llm.ask(MESSAGES, ReviewAnswer, max_tokens=200, task="review")
    assert 0 <= ans.score <= 100 and len(ans.text.split()) >= 4
    assert llm.usage.llm_calls == 1 and llm.usage.completion_tokens > 0


@pytest.mark.slow
def test_local_grammar_is_checked_per_token_and_always_holds():
    """The checked sampler keeps llama.cpp's guarantee: the answer matches the grammar even where the model,
    left free, would write something else (an enum it would never choose), and it constrains only then."""
    from llama_cpp import LlamaGrammar

    from hypofinder.llm.providers import CheckedGrammarSampler, load_llama, local_model_path

    llm = load_llama(local_model_path(), 2048, None)
    schema = {
        "type": "object",
        "properties": {"mineral": {"enum": ["zebra quartzite", "kyanite"]}, "n": {"enum": [17, 4]}},
        "required": ["mineral", "n"],
    }
    samplers = []
    init = llm._init_sampler

    def spy(*args, **kwargs):
        samplers.append(init(*args, **kwargs))
        return samplers[-1]

    llm._init_sampler = spy
    try:
        for seed in (1, 2, 3):
            out = llm.create_completion(
                "Write a haiku about the sea.\n",
                max_tokens=40,
                temperature=0.9,
                seed=seed,
                grammar=LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False),
            )
            answer = json.loads(out["choices"][0]["text"])
            assert answer["mineral"] in ("zebra quartzite", "kyanite") and answer["n"] in (17, 4)
    finally:
        del llm._init_sampler
    checked = [s for s in samplers if isinstance(s, CheckedGrammarSampler)]
    assert len(checked) == 3
    assert all(0 < s.resampled for s in checked)  # a haiku prompt: the grammar had to step in
