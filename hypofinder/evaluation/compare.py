"""Side-by-side comparison of two scored runs, with paired bootstrap intervals of each difference.

Questions are paired by id; for each metric only the ids that have a value in both runs count. The
interval is the 2.5-97.5 percentile range of the mean difference (B - A) over resampled questions.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from hypofinder.evaluation.metrics import QuestionScore

N_BOOT = 2000
COMPARED = (
    "keypoint_recall",
    "concept_recall",
    "words",
    "junk_rate",
    "evidence",
    "judge_score",
    "seconds",
    "llm_calls",
)
LOWER_IS_BETTER = {"junk_rate", "seconds", "llm_calls"}
NEUTRAL = {"words"}  # shown beside the recall so that length cannot pass for quality; neither better nor worse


class MetricDiff(BaseModel):
    metric: str
    n: int
    a: float | None
    b: float | None
    diff: float | None
    low: float | None
    high: float | None
    lower_is_better: bool = False
    neutral: bool = False

    @property
    def verdict(self) -> str:
        if self.low is None or self.high is None or (self.low <= 0 <= self.high):
            return "no clear difference"
        if self.neutral:
            return "B more" if (self.diff or 0) > 0 else "B fewer"
        better = (self.diff or 0) > 0
        if self.lower_is_better:
            better = not better
        return "B better" if better else "A better"


class Comparison(BaseModel):
    a: str
    b: str
    n_a: int
    n_b: int
    paired: int
    n_boot: int = N_BOOT
    rows: list[MetricDiff]


def _value(q: QuestionScore, metric: str) -> float | None:
    v = q.junk_rate if metric == "junk_rate" else getattr(q, metric)
    return None if v is None else float(v)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of mean(b - a) over ``n_boot`` resamples of the pairs."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(
    a: list[QuestionScore],
    b: list[QuestionScore],
    *,
    name_a: str = "A",
    name_b: str = "B",
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Comparison:
    by_b = {q.id: q for q in b}
    pairs = [(q, by_b[q.id]) for q in a if q.id in by_b]
    rows = []
    for metric in COMPARED:
        vals = [(_value(x, metric), _value(y, metric)) for x, y in pairs]
        vals = [(x, y) for x, y in vals if x is not None and y is not None]
        if not vals:
            rows.append(
                MetricDiff(
                    metric=metric,
                    n=0,
                    a=None,
                    b=None,
                    diff=None,
                    low=None,
                    high=None,
                    lower_is_better=metric in LOWER_IS_BETTER,
                    neutral=metric in NEUTRAL,
                )
            )
            continue
        xa, xb = np.array(vals).T
        low, high = paired_bootstrap(xa, xb, n_boot, seed)
        rows.append(
            MetricDiff(
                metric=metric,
                n=len(vals),
                a=round(float(xa.mean()), 4),
                b=round(float(xb.mean()), 4),
                diff=round(float((xb - xa).mean()), 4),
                low=round(low, 4),
                high=round(high, 4),
                lower_is_better=metric in LOWER_IS_BETTER,
                neutral=metric in NEUTRAL,
            )
        )
    return Comparison(a=name_a, b=name_b, n_a=len(a), n_b=len(b), paired=len(pairs), n_boot=n_boot, rows=rows)
