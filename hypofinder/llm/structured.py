"""Structured answers from any chat model: schema-constrained where the provider supports it,
otherwise parse + repair + bounded retry; cached in SQLite; tokens and time accounted.

The modes a provider supports come from its registry entry (``hypofinder.llm.registry``); which one an
endpoint really accepts is discovered once and remembered (``hypofinder.llm.modes``). Transport failures
are retried with exponential backoff by LangChain's ``Runnable.with_retry`` (tenacity); the repair and
re-prompt of malformed answers, real work for small models, is ours.
"""

from __future__ import annotations

import ast
import json
import re
import threading
import time
from pathlib import Path
from typing import TypeVar

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from hypofinder.errors import LLMError, one_line
from hypofinder.llm.cache import AnswerCache
from hypofinder.llm.modes import ModeMemory
from hypofinder.llm.registry import ModelSpec
from hypofinder.llm.schemas import response_format
from hypofinder.llm.tokens import count_messages, count_tokens, truncate_to_tokens

T = TypeVar("T", bound=BaseModel)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0  # wall time inside the model's calls (prompt evaluation and decoding)


def repair_json(text: str) -> dict:
    """Best-effort extraction of one JSON object from a model's text answer."""
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        raise ValueError("no JSON object in the answer")
    body = text[start : end + 1]
    for candidate in (
        body,
        re.sub(r",\s*([}\]])", r"\1", body.replace("“", '"').replace("”", '"')),
    ):
        try:
            value = json.loads(candidate, strict=False)  # tolerate raw newlines inside strings
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
    try:  # python-literal style: single quotes, True/False/None
        value = ast.literal_eval(
            re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", body)))
        )
        if isinstance(value, dict):
            return value
    except (ValueError, SyntaxError):
        pass
    raise ValueError("answer is not valid JSON")


def _short(err: Exception) -> str:
    return one_line(err, 160)


class StructuredLLM:
    """Ask a chat model for an answer that validates against a pydantic model."""

    def __init__(
        self,
        spec: ModelSpec,
        chat_model,
        *,
        temperature: float,
        seed: int | None,
        cache: AnswerCache | None = None,
        max_retries: int = 2,
        n_ctx: int | None = None,
        backoff_s: float = 0.5,
        modes_path: Path | None = None,
    ):
        self.spec, self.chat_model = spec, chat_model
        self.temperature, self.seed = temperature, seed
        self.cache, self.max_retries = cache, max_retries
        self.n_ctx = n_ctx or spec.entry.context_window
        self.backoff_s = backoff_s
        self.modes = ModeMemory.for_endpoint(spec.cache_key, spec.entry.structured_output, modes_path)
        self._lock = threading.Lock()
        self.usage = Usage()

    # ------------------------------------------------------------------ public
    def ask(self, messages: list[tuple[str, str]], schema: type[T], *, max_tokens: int, task: str) -> T:
        messages = self._fit(messages, max_tokens)
        key = AnswerCache.key(
            model=self.spec.cache_key,
            temperature=self.temperature,
            seed=self.seed,
            schema=schema.model_json_schema(),
            messages=messages,
            max_tokens=max_tokens,
        )
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            try:
                value = schema.model_validate(hit[0])
                self._count(cache_hits=1)
                return value
            except ValidationError:
                pass  # schema changed since: ask again
        value, p_tok, c_tok = self._ask_model(messages, schema, max_tokens, task)
        if self.cache is not None:
            self.cache.put(
                key,
                model=self.spec.cache_key,
                task=task,
                answer=value.model_dump(mode="json"),
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
            )
        return value

    def ask_text(self, messages: list[tuple[str, str]], *, max_tokens: int, task: str) -> str:
        """A free-text answer (no schema, no grammar): cached and accounted like ``ask``; transport failures
        are retried, an empty answer raises LLMError."""
        from hypofinder.llm.errors import classify

        messages = self._fit(messages, max_tokens)
        key = AnswerCache.key(
            kind="text",
            model=self.spec.cache_key,
            temperature=self.temperature,
            seed=self.seed,
            messages=messages,
            max_tokens=max_tokens,
        )
        if self.cache is not None and (hit := self.cache.get(key)) is not None and hit[0].get("text"):
            self._count(cache_hits=1)
            return hit[0]["text"]
        t_call = time.perf_counter()
        try:
            reply = self._invoke(self._lc_messages(messages, None, "text"), "text", None, max_tokens)
        except Exception as exc:  # noqa: BLE001 - classified into one line
            raise LLMError(f"{task}: {classify(exc, self.spec)[1]}") from None
        text = str(reply.content).strip()
        meta = getattr(reply, "usage_metadata", None) or {}
        p_tok = meta.get("input_tokens") or count_messages(messages, self.spec.name)
        c_tok = meta.get("output_tokens") or count_tokens(text, self.spec.name)
        self._count(llm_calls=1, prompt_tokens=p_tok, completion_tokens=c_tok, seconds=time.perf_counter() - t_call)
        if not text:
            raise LLMError(f"{task}: model {self.spec.name} gave an empty answer")
        if self.cache is not None:
            self.cache.put(
                key,
                model=self.spec.cache_key,
                task=task,
                answer={"text": text},
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
            )
        return text

    # ------------------------------------------------------------------ internals
    def _count(self, **inc: int) -> None:
        with self._lock:
            for k, v in inc.items():
                setattr(self.usage, k, getattr(self.usage, k) + v)

    def _fit(self, messages: list[tuple[str, str]], max_tokens: int) -> list[tuple[str, str]]:
        """Prompt budgeting: shorten the last user message so prompt + answer fit the window."""
        budget = self.n_ctx - max_tokens - 16
        over = count_messages(messages, self.spec.name) - budget
        if over <= 0:
            return messages
        role, content = messages[-1]
        keep = count_tokens(content, self.spec.name) - over - 8
        if keep < 32:
            raise LLMError(f"prompt for the model does not fit its {self.n_ctx}-token window")
        return [*messages[:-1], (role, truncate_to_tokens(content, keep, self.spec.name))]

    @staticmethod
    def _bind_kwargs(mode: str, schema: type[BaseModel] | None, max_tokens: int) -> dict:
        fmt = response_format(mode, schema) if schema is not None else None  # None: free text (``ask_text``)
        return {"max_tokens": max_tokens, **({"response_format": fmt} if fmt else {})}

    @staticmethod
    def _lc_messages(messages, schema, mode):
        out = [SystemMessage(c) if role == "system" else HumanMessage(c) for role, c in messages]
        if mode == "none" and schema is not None:
            out.append(
                HumanMessage(
                    "Answer with one JSON object only, no prose, matching this JSON schema:\n"
                    + json.dumps(schema.model_json_schema(), separators=(",", ":"))
                )
            )
        return out

    def _invoke(self, lc, mode: str, schema: type[BaseModel], max_tokens: int):
        """One call; transient failures (unreachable, timeout, busy) retried with backoff (tenacity)."""
        from hypofinder.llm.errors import classify

        runnable = self.chat_model.bind(**self._bind_kwargs(mode, schema, max_tokens))
        if self.max_retries and not self.spec.entry.in_process:
            runnable = runnable.with_retry(
                retry_if_exception_type=lambda exc: classify(exc, self.spec)[0] == "transient",
                stop_after_attempt=self.max_retries + 1,
                wait_exponential_jitter=True,
                exponential_jitter_params={
                    "multiplier": self.backoff_s,
                    "max": 30 * self.backoff_s,
                    "jitter": self.backoff_s,
                },
            )
        return runnable.invoke(lc)

    def _ask_model(self, messages, schema: type[T], max_tokens: int, task: str) -> tuple[T, int, int]:
        import openai

        from hypofinder.llm.errors import classify  # provider exception -> (kind, line)

        parse_failures = 0
        p_total = c_total = 0
        with self.modes.probing():
            mode = self.modes.current
            lc = self._lc_messages(messages, schema, mode)
            while True:
                t_call = time.perf_counter()
                cut_off = False
                try:
                    reply = self._invoke(lc, mode, schema, max_tokens)
                    text, meta = str(reply.content), getattr(reply, "usage_metadata", None) or {}
                except openai.LengthFinishReasonError as exc:  # ran past max_tokens: re-asked like bad JSON
                    cut_off, text = True, exc.completion.choices[0].message.content or ""
                    usage = exc.completion.usage
                    meta = (
                        {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens} if usage else {}
                    )
                except Exception as exc:  # noqa: BLE001 - classified below
                    kind, line = classify(exc, self.spec)
                    if kind == "unsupported" and self.modes.drop(mode):
                        mode = self.modes.current  # this endpoint lacks that mode: remembered, next one
                        lc = self._lc_messages(messages, schema, mode)
                        continue
                    raise LLMError(f"{task}: {line}") from None
                self.modes.confirm(mode)
                p_tok = meta.get("input_tokens") or count_messages(messages, self.spec.name)
                c_tok = meta.get("output_tokens") or count_tokens(text, self.spec.name)
                p_total, c_total = p_total + p_tok, c_total + c_tok
                self._count(llm_calls=1, prompt_tokens=p_tok, completion_tokens=c_tok)
                self._count(seconds=time.perf_counter() - t_call)
                try:
                    if cut_off:
                        raise ValueError(f"cut off at the {max_tokens}-token limit; be more concise")
                    return schema.model_validate(repair_json(text)), p_total, c_total
                except (ValueError, ValidationError) as exc:
                    parse_failures += 1
                    last_error = _short(exc)
                    if parse_failures > self.max_retries:
                        raise LLMError(
                            f"{task}: model {self.spec.name} gave no valid JSON after {parse_failures} attempts "
                            f"({last_error})"
                        ) from None
                    lc = [
                        *lc,
                        AIMessage(text[:2000]),
                        HumanMessage(
                            f"That answer was not valid JSON for the schema ({last_error}). "
                            "Reply again with only the corrected JSON object."
                        ),
                    ]
