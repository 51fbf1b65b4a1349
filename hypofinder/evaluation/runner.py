"""Evaluation runs: mine a reference set's questions (resumable, via hypofinder.mining), then score them,
for the configured pipeline or for named ablation variants; or score an existing results file; or load scored
runs for a comparison.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from hypofinder.errors import BadInputError
from hypofinder.evaluation.metrics import WORD_BUDGET, EvalScores, QuestionScore, score
from hypofinder.evaluation.references import ReferenceSet, read_references
from hypofinder.evaluation.results import Generated, Pick, read_results
from hypofinder.evaluation.variants import Variant
from hypofinder.mining import MinedResult, mine
from hypofinder.outfiles import read_input_text

Note = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def mine_references(
    refs: ReferenceSet,
    *,
    out: str | Path | None = None,
    config=None,
    concurrency: int = 1,
    on_note: Note = _quiet,
    on_result: Callable[[MinedResult], None] | None = None,
    variant: str | None = None,
    **options,
) -> dict[str, Generated]:
    """Mine every reference question; with ``out`` the job resumes from (and keeps) that results file.

    ``config`` (default: the settings' run configuration) overridden by ``options`` (RunConfig fields such as
    ``model="fake", contexts=2``), as for ``hypofinder.mining.mine``. ``variant`` is written on every line.
    """
    tag = {"variant": variant} if variant else {}
    job = mine(
        [{"id": r.id, "query": r.query, **tag} for r in refs.items],
        out=out,
        config=config,
        concurrency=concurrency,
        on_note=on_note,
        **options,
    )
    generated: dict[str, Generated] = {}
    with job:
        for result in job:
            generated[result.id] = Generated.from_mined(result)
            if on_result is not None:
                on_result(result)
    if out is not None:  # ids finished by an earlier run were skipped: read them back
        done = read_results(out)
        for line in done.problems:
            on_note(line)
        generated = {**{k: v for k, v in done.items.items() if k in refs.by_id()}, **generated}
    return generated


def evaluate(
    refs_path: str | Path,
    *,
    pick: Pick = "top",
    judge=None,
    words: int | None = WORD_BUDGET,
    on_note: Note = _quiet,
    **mine_options,
) -> EvalScores:
    """``hypofinder eval run``: mine the reference questions, then score them."""
    refs = load_references(refs_path, on_note)
    out = mine_options.get("out")
    if out is not None and Path(out).exists() and Path(out).resolve() == Path(refs_path).resolve():
        raise BadInputError("--out must differ from the reference set")
    generated = mine_references(refs, on_note=on_note, **mine_options)
    return score(refs.items, generated, pick=pick, judge=judge, words=words)


def variant_path(path: str | Path, name: str, several: bool) -> Path:
    """The results (or scores) file of one variant: ``path`` itself for one variant, ``stem.NAME.suffix`` for several."""
    path = Path(path)
    return path.with_name(f"{path.stem}.{name}{path.suffix}") if several else path


def _check_variant(path: Path | None, name: str) -> None:
    """A results file resumed for one variant must not hold another variant's lines."""
    if path is None or not path.is_file() or not path.stat().st_size:
        return
    recorded = {g.variant for g in read_results(path).items.values()} - {None}
    if recorded - {name}:
        raise BadInputError(
            f"{path} holds results of variant {sorted(recorded)[0]!r}, not {name!r}: choose another --out"
        )


def evaluate_variants(
    refs_path: str | Path,
    variants: list[Variant],
    *,
    out: str | Path | None = None,
    config=None,
    pick: Pick = "top",
    judge=None,
    words: int | None = WORD_BUDGET,
    split: str | None = None,
    concurrency: int = 1,
    on_note: Note = _quiet,
    on_result: Callable[[MinedResult], None] | None = None,
) -> dict[str, EvalScores]:
    """``hypofinder eval run --variant V ...``: each variant on the same questions, model and seed, scored alike.

    ``config`` (default: the settings' run configuration) is each variant's base. Variants with the same
    configuration (full, synthesis-only) share one run. With ``out``, each run resumes from its own results
    file (``variant_path``), whose lines record the variant. ``split`` keeps the references of that split.
    """
    from hypofinder.settings import settings

    refs = load_references(refs_path, on_note).only(split)
    if out is not None and Path(out).exists() and Path(out).resolve() == Path(refs_path).resolve():
        raise BadInputError("--out must differ from the reference set")
    base = config or settings().run
    configs = [v.config(base) for v in variants]  # every bad option fails here, before any work
    runs: dict[str, dict[str, Generated]] = {}
    scores: dict[str, EvalScores] = {}
    for v, cfg in zip(variants, configs):
        key = cfg.model_dump_json()
        if key not in runs:
            path = variant_path(out, v.name, len(variants) > 1) if out is not None else None
            _check_variant(path, v.name)
            runs[key] = mine_references(
                refs,
                out=path,
                config=cfg,
                concurrency=concurrency,
                on_note=on_note,
                on_result=on_result,
                variant=v.name,
            )
        scores[v.name] = score(refs.items, runs[key], pick=v.pick or pick, judge=judge, words=words, variant=v.name)
    return scores


def score_file(
    refs_path: str | Path,
    results_path: str | Path,
    *,
    pick: Pick | None = "top",
    judge=None,
    words: int | None = WORD_BUDGET,
    on_note: Note = _quiet,
) -> EvalScores:
    """``hypofinder eval score``: score an existing results file against a reference set."""
    refs = load_references(refs_path, on_note)
    results = read_results(results_path)
    for line in results.problems:
        on_note(line)
    known = refs.by_id()
    matched = [rid for rid in results.items if rid in known]
    if not matched:
        raise BadInputError(
            f"no result in {Path(results_path).name} has the id of a question in {Path(refs_path).name}"
        )
    if pick is None:  # the pick of the variant the file records (synthesis-only scores the synthesis), else top
        from hypofinder.evaluation.variants import VARIANTS

        recorded = {g.variant for g in results.items.values()} - {None}
        named = VARIANTS.get(recorded.pop()) if len(recorded) == 1 else None
        pick = (named.pick if named else None) or "top"
    scores = score(refs.items, results.items, pick=pick, judge=judge, words=words)
    if scores.missing:
        shown = ", ".join(scores.missing[:5]) + (" ..." if len(scores.missing) > 5 else "")
        on_note(f"{len(scores.missing)} reference question(s) have no result and were not scored: {shown}")
    return scores


def load_references(path: str | Path, on_note: Note = _quiet) -> ReferenceSet:
    refs = read_references(path)
    for line in refs.problems:
        on_note(line)
    return refs


def write_scores(scores: EvalScores, path: str | Path) -> None:
    """Per-question scores as JSONL (one QuestionScore a line), written atomically: input to ``compare``."""
    from hypofinder.outfiles import check_out_path, write_atomic

    path = Path(path)
    check_out_path(path)
    write_atomic(path, "".join(q.model_dump_json() + "\n" for q in scores.per_question))


def load_scores(
    path: str | Path,
    refs_path: str | Path | None = None,
    *,
    pick: Pick | None = "top",
    words: int | None = WORD_BUDGET,
    on_note: Note = _quiet,
) -> list[QuestionScore]:
    """Per-question scores from a scores JSONL, an ``eval --json`` output, or (with a reference set) a results file."""
    path = Path(path)
    text = read_input_text(path, "scores file")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and "per_question" in whole:
        try:
            return EvalScores.model_validate(whole).per_question
        except ValidationError as exc:
            raise BadInputError(f"{path}: not an evaluation output ({exc.errors()[0]['msg']})") from None
    lines = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not lines:
        raise BadInputError(f"{path} is empty")
    first = _first_object(lines)
    if first is not None and "keypoint_recall" in first:
        out = []
        for n, line in lines:
            try:
                out.append(QuestionScore.model_validate_json(line))
            except ValidationError as exc:
                on_note(f"{path.name} line {n}: not a question score ({exc.errors()[0]['msg']})")
        return out
    if refs_path is None:
        raise BadInputError(f"{path} holds results, not scores: pass --refs REFS to score it first")
    return score_file(refs_path, path, pick=pick, words=words, on_note=on_note).per_question


def _first_object(lines: list[tuple[int, str]]) -> dict | None:
    for _n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None
