"""The pipeline's plumbing, kept out of ``hypofinder.pipeline`` so that module reads as the steps: progress
events, running a step over the contexts (concurrently for servers) and the whole-report cache."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, Field

from hypofinder import __version__
from hypofinder.llm.cache import AnswerCache
from hypofinder.models import HypothesisReport, RunManifest
from hypofinder.prompts import prompt_versions
from hypofinder.provenance import git_sha, input_fingerprint, physh_version
from hypofinder.settings import RunConfig, settings

Step = Literal[
    "contexts",
    "plan",
    "evidence",
    "ground",
    "generate",
    "validate",
    "appraise",
    "review",
    "revise",
    "tournament",
    "synthesize",
    "done",
]


class Progress(BaseModel):
    """What the pipeline is doing now (for progress bars and the app)."""

    step: Step
    index: int | None = None
    total: int | None = None
    label: str | None = Field(default=None, description="The context concerned, e.g. its lead concept")
    message: str = ""


def check_query(query: str) -> str:
    """The question normalised, or one clear line (limits from the run configuration in force)."""
    return settings().run.check_query(query)


class Plumbing:
    """Mixed into ``HypothesisFinder``: uses its ``spec``, ``config``, ``cache``, ``profile``, ``rounds``,
    ``tournament_enabled``, ``library``, ``validate_enabled`` and ``_custom_parts``."""

    def _each(self, items: list, step: Step, notify, fn, labels: list[str], round_no: int | None = None) -> list:
        """Run fn over items with a progress event each: concurrently for servers, in order otherwise."""
        total = len(items)
        where = f" (round {round_no})" if round_no else ""

        def run(i_item):
            i, item = i_item
            notify(
                Progress(
                    step=step,
                    index=i + 1,
                    total=total,
                    label=labels[i],
                    message=f"{step}{where} {i + 1}/{total}: {labels[i]}",
                )
            )
            return fn(item)

        return self._map(run, list(enumerate(items)))

    def _map(self, fn, items: list) -> list:
        """fn over items, in order: concurrently for servers, one by one for in-process models."""
        if self.spec.is_server and len(items) > 1:
            with ThreadPoolExecutor(max_workers=min(len(items), 8)) as pool:
                return list(pool.map(fn, items))
        return [fn(x) for x in items]

    def manifest(self, usage0, t_start: float, steps: dict[str, float], **fields) -> RunManifest:
        """The run record: model, settings, provenance and what the run cost since ``usage0`` / ``t_start``;
        ``fields`` override (the raw baseline's)."""
        usage = self.llm.usage
        return RunManifest(
            **{
                "model": self.spec.name,
                "provider": self.spec.provider,
                "base_url_host": self.spec.base_url_host,
                "temperature": self.temperature,
                "seed": self.seed,
                "physh_version": physh_version(),
                "hypofinder_version": __version__,
                "git_sha": git_sha(),
                "prompt_versions": prompt_versions(),
                "prompt_tokens": usage.prompt_tokens - usage0.prompt_tokens,
                "completion_tokens": usage.completion_tokens - usage0.completion_tokens,
                "llm_calls": usage.llm_calls - usage0.llm_calls,
                "cache_hits": usage.cache_hits - usage0.cache_hits,
                "llm_seconds": round(usage.seconds - usage0.seconds, 3),
                "seconds": round(time.perf_counter() - t_start, 3),
                "step_seconds": steps,
                "validate_enabled": self.validate_enabled,
                "library": self.library.name if self.library else None,
                "rounds": self.rounds,
                "tournament_enabled": self.tournament_enabled,
                "capability": self.profile.name,
                **fields,
            }
        )

    def _report_key(self, query: str) -> str | None:
        if self.cache is None or self._custom_parts:
            return None
        resolved = {  # what is in force where an option leaves it to the model's defaults or the library's files
            "model": self.spec.cache_key,
            "rounds": self.rounds,
            "tournament": self.tournament_enabled,
            "capability": self.profile.name,
            "library": f"{self.library.name}:{self.library.fingerprint()}" if self.library else None,
        }
        options = {k: resolved.get(k, getattr(self.config, k)) for k in RunConfig.output_fields()}
        options["inputs"] = input_fingerprint(self.validate_enabled)
        return AnswerCache.key(kind="report", query=query, prompts=prompt_versions(), version=__version__, **options)

    def _cached_report(self, key: str | None) -> HypothesisReport | None:
        hit = self.cache.get(key) if key else None
        if hit is None:
            return None
        report = HypothesisReport.model_validate(hit[0])
        report.run = report.run.model_copy(update={"cached": True, "llm_calls": 0, "seconds": 0.0, "llm_seconds": 0.0})
        return report

    def _store_report(self, key: str | None, report: HypothesisReport) -> None:
        if key:
            self.cache.put(
                key,
                model=self.spec.cache_key,
                task="report",
                answer=report.model_dump(mode="json"),
                prompt_tokens=report.run.prompt_tokens,
                completion_tokens=report.run.completion_tokens,
            )
