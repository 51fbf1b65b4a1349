"""``hypofinder eval``: score hypotheses against a reference set, and compare two scored runs.

hypofinder eval run REFS --model M [--contexts N] [--out RESULTS.jsonl] [--json]
hypofinder eval run REFS --variants raw,full,no-refine [--split held-out] [--out RESULTS.jsonl]  # ablation
hypofinder eval score REFS RESULTS [--pick top|best|synthesis] [--judge MODEL --base-url URL] [--json]
hypofinder eval compare A.jsonl B.jsonl [--refs REFS] [--json]
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hypofinder.cli import options as o

app = typer.Typer(help="Score generated hypotheses against a reference set; compare runs.", no_args_is_help=True)


class PickName(StrEnum):
    top = "top"
    best = "best"
    synthesis = "synthesis"


def _warn(err: Console):
    return lambda line: err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


WORDS = typer.Option(
    None, "--words", min=0, help="Words scored per hypothesis (default: the word budget, 150; 0: the whole text)."
)


def _words(words: int | None) -> int | None:
    from hypofinder.evaluation import WORD_BUDGET

    return WORD_BUDGET if words is None else words


def _print_variants(all_scores: dict, as_json: bool, save: Path | None) -> None:
    """One row per variant (``eval run --variants``); per-question scores to ``save`` split per variant."""
    from hypofinder.evaluation import variant_path, write_scores

    for name, scores in all_scores.items():
        if save is not None:
            write_scores(scores, variant_path(save, name, len(all_scores) > 1))
    if as_json:
        typer.echo(json.dumps({k: v.model_dump(mode="json") for k, v in all_scores.items()}, indent=2))
        return
    cols = {"n": "n", "keypoint_recall": "key points", "concept_recall": "concepts", "words_scored": "words"}
    cols |= {"junk_rate": "junk", "evidence_coverage": "evidence", "judge_score": "judge"}
    cols |= {"seconds_per_report": "s/report", "calls_per_report": "calls/report", "failed": "failed"}
    first = next(iter(all_scores.values()))
    table = Table(title=f"variants (word budget {first.word_budget or 'none'})", title_justify="left")
    table.add_column("variant")
    for head in cols.values():
        table.add_column(head, justify="right")
    for name, scores in all_scores.items():
        table.add_row(name, *(_fmt(getattr(scores, c)) for c in cols))
    Console().print(table)


def _judge(model: str | None, base_url: str | None):
    if model is None:
        return None
    from hypofinder.evaluation.judge import Judge

    return Judge(model, base_url)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _print_scores(scores, as_json: bool, save: Path | None) -> None:
    from hypofinder.evaluation import write_scores

    if save is not None:
        write_scores(scores, save)
    if as_json:
        typer.echo(scores.model_dump_json(indent=2))
        return
    out = Console()
    variant = f"variant {scores.variant}, " if scores.variant else ""
    per = Table(title=f"per question ({variant}scored: {scores.pick})", title_justify="left")
    for col in ("id", "scored", "key points", "concepts", "words", "junk", "evidence", "judge"):
        per.add_column(col, justify="left" if col in ("id", "scored") else "right")
    for q in scores.per_question:
        per.add_row(
            escape(q.id),
            "[red]error[/]" if q.error else (q.scored or "-"),
            f"{sum(q.key_points_matched)}/{len(q.key_points_matched)}",
            _fmt(q.concept_recall),
            str(q.words),
            f"{q.junk_fields}/{q.text_fields}",
            "-" if q.evidence is None else "yes" if q.evidence else "no",
            _fmt(q.judge_score),
        )
    out.print(per)
    table = Table(title="evaluation", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key in (
        "n",
        "keypoint_recall",
        "concept_recall",
        "junk_rate",
        "evidence_coverage",
        "score_recall_spearman",
        "judge_score",
        "words_scored",
        "seconds_per_report",
        "calls_per_report",
        "failed",
    ):
        table.add_row(key, _fmt(getattr(scores, key)))
    table.add_row("threshold", f"{scores.threshold:.3f}")
    table.add_row("word budget", str(scores.word_budget or "none"))
    if scores.missing:
        table.add_row("missing", str(len(scores.missing)))
    out.print(table)


@app.command("run")
@o.run_options
def run(
    refs: Path = typer.Argument(
        ..., help="Reference set: .jsonl or .csv with id, query, reference_hypothesis[, key_points]."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Results file (JSONL; rerun to resume). Default: not kept."
    ),
    concurrency: int = typer.Option(1, "--concurrency", "-j", help="Questions in parallel."),
    pick: PickName = typer.Option(
        PickName.top, "--pick", help="Which hypothesis is scored: top-ranked context, best of N, or the synthesis."
    ),
    judge: Optional[str] = typer.Option(
        None, "--judge", help="Also ask this model for a 0-5 matched score (LLM judge)."
    ),
    judge_base_url: Optional[str] = typer.Option(
        None, "--judge-base-url", help="Endpoint of the judge (default: --base-url)."
    ),
    save: Optional[Path] = typer.Option(None, "--scores", help="Write per-question scores (JSONL) for `eval compare`."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    variants: Optional[list[str]] = typer.Option(
        None,
        "--variant",
        "--variants",
        help="Ablation variant(s), repeatable or comma-separated: raw, full, no-contexts, no-evidence, no-plan, no-refine, "
        "synthesis-only (hypofinder.evaluation.variants). Several: one results/scores file each (NAME.stem).",
    ),
    split: Optional[str] = typer.Option(None, "--split", help="Only the references of this split: tuning, held-out."),
    words: Optional[int] = WORDS,
    *,
    options: dict,
) -> None:
    """Mine every question of REFS (resumable with --out), then score the hypotheses against the references."""
    from hypofinder.evaluation import evaluate, evaluate_variants, parse_variants
    from hypofinder.settings import settings

    err = Console(stderr=True)
    config = settings().run.merged(**options)
    chosen = parse_variants(variants or ["full"]) if variants or split else None  # unknown names stop here
    scorer = _judge(judge, judge_base_url or config.base_url)
    with err.status("mining the reference questions", spinner="dots") if not as_json else nullcontext():
        if chosen is not None:
            all_scores = evaluate_variants(
                refs,
                chosen,
                out=out,
                config=config,
                pick=pick.value,
                judge=scorer,
                words=_words(words),
                split=split,
                concurrency=concurrency,
                on_note=_warn(err),
            )
        else:
            scores = evaluate(
                refs,
                pick=pick.value,
                judge=scorer,
                words=_words(words),
                on_note=_warn(err),
                out=out,
                config=config,
                concurrency=concurrency,
            )
    if chosen is None:
        _print_scores(scores, as_json, save)
    elif len(all_scores) == 1:
        _print_scores(next(iter(all_scores.values())), as_json, save)
    else:
        _print_variants(all_scores, as_json, save)


@app.command("score")
def score(
    refs: Path = typer.Argument(..., help="Reference set (.jsonl or .csv)."),
    results: Path = typer.Argument(..., help='Results: `hypofinder mine` lines or {"id", "hypothesis"} lines.'),
    pick: PickName = typer.Option(
        PickName.top, "--pick", help="Which hypothesis is scored: top-ranked context, best of N, or the synthesis."
    ),
    judge: Optional[str] = typer.Option(
        None, "--judge", help="Also ask this model for a 0-5 matched score (LLM judge)."
    ),
    base_url: Optional[str] = typer.Option(
        None, "--base-url", "--judge-base-url", help="OpenAI-compatible endpoint of the judge."
    ),
    save: Optional[Path] = typer.Option(None, "--scores", help="Write per-question scores (JSONL) for `eval compare`."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    words: Optional[int] = WORDS,
) -> None:
    """Score an existing RESULTS file against REFS (offline; bad lines are named on stderr and skipped)."""
    from hypofinder.evaluation import score_file

    err = Console(stderr=True)
    scores = score_file(
        refs, results, pick=pick.value, judge=_judge(judge, base_url), words=_words(words), on_note=_warn(err)
    )
    _print_scores(scores, as_json, save)


def _named(path: Path, scores) -> str:
    """The file's name, with the variant its scores record."""
    recorded = {q.variant for q in scores} - {None}
    return f"{path.name} ({recorded.pop()})" if len(recorded) == 1 else path.name


@app.command("compare")
def compare(
    a: Path = typer.Argument(
        ..., help="Run A: per-question scores (--scores), an `eval --json` output, or results (with --refs)."
    ),
    b: Path = typer.Argument(..., help="Run B, the same kinds of file."),
    refs: Optional[Path] = typer.Option(None, "--refs", help="Reference set, to score results files first."),
    pick: Optional[PickName] = typer.Option(
        None, "--pick", help="Which hypothesis is scored (results files; default: the recorded variant's, else top)."
    ),
    words: Optional[int] = WORDS,
    n_boot: int = typer.Option(2000, "--bootstrap", min=100, max=100000, help="Bootstrap resamples."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Side-by-side metrics of two runs, paired by question id, with 95 % paired bootstrap intervals of B - A."""
    from hypofinder.errors import BadInputError
    from hypofinder.evaluation import compare as compare_runs
    from hypofinder.evaluation import load_scores

    err = Console(stderr=True)
    chosen = pick.value if pick is not None else None
    qa = load_scores(a, refs, pick=chosen, words=_words(words), on_note=_warn(err))
    qb = load_scores(b, refs, pick=chosen, words=_words(words), on_note=_warn(err))
    result = compare_runs(qa, qb, name_a=_named(a, qa), name_b=_named(b, qb), n_boot=n_boot)
    if not result.paired:
        raise BadInputError(f"{a.name} and {b.name} share no question id")
    if as_json:
        typer.echo(json.dumps(result.model_dump(), indent=2))
        return
    table = Table(
        title=f"A = {escape(result.a)}   B = {escape(result.b)}   ({result.paired} paired questions, "
        f"{result.n_boot} bootstrap resamples)",
        title_justify="left",
    )
    for col in ("metric", "n", "A", "B", "B - A", "95 % interval", ""):
        table.add_column(col, justify="left" if col in ("metric", "") else "right")
    for row in result.rows:
        interval = "-" if row.low is None else f"[{row.low:+.3f}, {row.high:+.3f}]"
        diff = "-" if row.diff is None else f"{row.diff:+.3f}"
        name = row.metric + (" (lower is better)" if row.lower_is_better else "")
        table.add_row(name, str(row.n), _fmt(row.a), _fmt(row.b), diff, interval, row.verdict if row.n else "")
    Console().print(table)
