"""The LLM judge: a 0-5 matched score of a hypothesis against a reference's key points (as in MOOSE-Chem).

Uses the LLM room (any registered provider: an OpenAI-compatible server, the embedded model, the fake one)
with the prompt ``prompts/judge_match.yaml``; answers are cached like every other structured answer.
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
    """``judge(reference, hypothesis_text) -> (score 0-5, reason)``; deterministic (temperature 0)."""

    def __init__(self, model: str, base_url: str | None = None, config=None):
        from hypofinder.llm import StructuredLLM, resolve
        from hypofinder.llm.cache import AnswerCache
        from hypofinder.prompts import load_prompt
        from hypofinder.settings import settings

        cfg = settings()
        run = (config or cfg.run).merged(model=model, base_url=base_url, temperature=0.0)
        self.prompt = load_prompt("judge_match")
        self.spec = resolve(run.model, run.base_url)
        chat = self.spec.entry.build(self.spec, run)
        store = AnswerCache(cfg.cache_dir / "llm_cache.sqlite") if run.cache else None
        self.llm = StructuredLLM(
            self.spec,
            chat,
            temperature=0.0,
            seed=run.seed,
            cache=store,
            max_retries=run.max_retries,
            modes_path=cfg.cache_dir / "endpoints.json",
        )

    def __call__(self, ref: Reference, hypothesis: str) -> tuple[int, str]:
        points = "\n".join(f"{i}. {p}" for i, p in enumerate(ref.points(), 1))
        messages = self.prompt.messages(
            query=ref.query, reference=ref.reference_hypothesis, key_points=points, hypothesis=hypothesis
        )
        answer = self.llm.ask(messages, JudgeAnswer, max_tokens=JUDGE_MAX_TOKENS, task=f"judge {ref.id}")
        return answer.score, " ".join(answer.reason.split())
