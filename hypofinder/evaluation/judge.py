"""The LLM judge: a 0-5 matched score of a hypothesis against a reference's key points (as in MOOSE-Chem).

Uses the LLM room (any OpenAI-compatible server, the embedded model or the fake one) with the prompt
``prompts/judge_match.yaml``; answers are cached like every other structured answer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from hypofinder.evaluation.references import Reference

JUDGE_MAX_TOKENS = 200


class JudgeAnswer(BaseModel):
    matched: list[int] = Field(default_factory=list, max_length=20, description="Numbers of the key points stated")
    score: int = Field(ge=0, le=5, description="0-5 matched score")
    reason: str = Field(min_length=5, max_length=300)


class Judge:
    """``judge(reference, hypothesis_text) -> (score 0-5, reason)``."""

    def __init__(self, model: str, base_url: str | None = None, *, seed: int | None = 42, cache: bool = True,
                 timeout: float | None = None, max_retries: int | None = None):
        from hypofinder.llm import StructuredLLM, make_chat_model, parse_model_spec
        from hypofinder.llm.cache import AnswerCache
        from hypofinder.prompts import load_prompt
        from hypofinder.settings import settings

        cfg = settings()
        self.prompt = load_prompt("judge_match")
        self.spec = parse_model_spec(model, base_url)
        n_ctx = cfg.local_n_ctx if self.spec.provider == "local" else 16384
        chat = make_chat_model(self.spec, temperature=0.0, seed=seed, timeout=timeout or cfg.llm_timeout_s,
                               n_ctx=cfg.local_n_ctx, n_threads=cfg.local_n_threads)
        store = AnswerCache(cfg.cache_dir / "llm_cache.sqlite") if cache and cfg.llm_cache else None
        self.llm = StructuredLLM(self.spec, chat, temperature=0.0, seed=seed, cache=store, n_ctx=n_ctx,
                                 max_retries=cfg.llm_max_retries if max_retries is None else max_retries)

    def __call__(self, ref: Reference, hypothesis: str) -> tuple[int, str]:
        points = "\n".join(f"{i}. {p}" for i, p in enumerate(ref.points(), 1))
        messages = self.prompt.messages(query=ref.query, reference=ref.reference_hypothesis, key_points=points,
                                        hypothesis=hypothesis)
        answer = self.llm.ask(messages, JudgeAnswer, max_tokens=JUDGE_MAX_TOKENS, task=f"judge {ref.id}")
        return answer.score, " ".join(answer.reason.split())
