"""Batch hypothesis mining: many questions through the pipeline, one result line each in a JSONL file.

    job = mine(queries, out="results.jsonl", concurrency=4)   # a MiningJob: an iterator of MinedResult
    for result in job: ...                                      # job.stats: done / failed / skipped / tokens

``inputs`` reads and checks the questions, ``results`` holds the crash-safe results file, ``engines`` runs
questions on threads or Ray actors, ``job`` ties them together.
"""

from hypofinder.mining.engines import busy_workers
from hypofinder.mining.inputs import QueryItem, QuerySet, collect_queries, read_queries
from hypofinder.mining.job import MiningJob, MiningStats, mine
from hypofinder.mining.results import MinedResult, ResultsFile, run_one

__all__ = [
    "MinedResult",
    "MiningJob",
    "MiningStats",
    "QueryItem",
    "QuerySet",
    "ResultsFile",
    "busy_workers",
    "collect_queries",
    "mine",
    "read_queries",
    "run_one",
]
