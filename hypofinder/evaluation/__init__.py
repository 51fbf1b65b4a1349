"""Evaluation harness: score generated hypotheses against a reference set (offline), compare runs.

    refs = read_references("benchmarks/data/eval_refs.jsonl")
    scores = evaluate(refs_path, model="fake", contexts=2, out="results.jsonl")   # mine, then score
    scores = score_file(refs_path, "results.jsonl", pick="best")                 # score existing results
    scores.keypoint_recall, scores.per_question[0].key_points_matched
    compare(load_scores("a.jsonl"), load_scores("b.jsonl")).rows                  # paired bootstrap
    evaluate_variants(refs_path, parse_variants("raw,full"), model="fake")         # ablation: {name: scores}

Metrics: see ``hypofinder.evaluation.metrics``.
"""

from hypofinder.evaluation.compare import Comparison, MetricDiff, compare
from hypofinder.evaluation.metrics import (
    KEYPOINT_THRESHOLD,
    METRIC_KEYS,
    WORD_BUDGET,
    EvalScores,
    QuestionScore,
    calibrate,
    score,
)
from hypofinder.evaluation.references import (
    Reference,
    ReferenceSet,
    read_references,
    split_claims,
)
from hypofinder.evaluation.results import PICKS, Generated, read_results
from hypofinder.evaluation.runner import (
    evaluate,
    evaluate_variants,
    load_scores,
    mine_references,
    score_file,
    variant_path,
    write_scores,
)
from hypofinder.evaluation.variants import VARIANTS, Variant, get_variant, parse_variants

__all__ = [
    "KEYPOINT_THRESHOLD",
    "VARIANTS",
    "WORD_BUDGET",
    "METRIC_KEYS",
    "PICKS",
    "Comparison",
    "EvalScores",
    "Generated",
    "MetricDiff",
    "Variant",
    "QuestionScore",
    "Reference",
    "ReferenceSet",
    "calibrate",
    "compare",
    "evaluate",
    "evaluate_variants",
    "get_variant",
    "load_scores",
    "mine_references",
    "parse_variants",
    "read_references",
    "read_results",
    "score",
    "score_file",
    "split_claims",
    "variant_path",
    "write_scores",
]
