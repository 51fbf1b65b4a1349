"""Render a HypothesisReport as Markdown, plain text (rich) or CSV; shared by the CLI and the app."""

from __future__ import annotations

import csv
import io

from hypofinder.models import ContextResult, Evidence, HypothesisReport, Rating, Tournament, Validation
from hypofinder.prediction import registry


def context_title(i: int, r: ContextResult) -> str:
    elo = f" / Elo {r.elo:.0f}" if r.elo is not None else ""
    return f"Context {i}. {r.role} / {r.framework}::{r.concepts[0].label} / score {r.review.score}{elo}"


def rating_of(report: HypothesisReport, r: ContextResult) -> Rating | None:
    t = report.tournament
    return next((x for x in t.ratings if x.id == r.id), None) if t else None


def rating_text(rating: Rating | None) -> str:
    if rating is None:
        return ""
    return f"Elo {rating.elo:.0f} ± {rating.std:.0f} ({rating.wins} won, {rating.draws} drawn, {rating.losses} lost)"


def record_lines(report: HypothesisReport, r: ContextResult) -> list[str]:
    """This context's tournament record and revision history, one line each."""
    lines = []
    if (rating := rating_of(report, r)) is not None:
        lines.append(f"Tournament: {rating_text(rating)}; rank score {r.rank_score:.1f}")
        names = {c.id: c.concepts[0].label for c in report.contexts}
        for m in report.tournament.matches:
            if r.id in (m.a, m.b):
                other = m.b if m.a == r.id else m.a
                result = "draw" if m.winner == "draw" else ("won" if m.winner == r.id else "lost")
                lines.append(f"  - {result} vs {other} ({names.get(other, other)}): {m.reason}")
    for j, v in enumerate(r.revisions, 1):
        verdict = f", evidence {v.verdict}" if v.verdict else ""
        lines.append(f"Version {j} (score {v.score}{verdict}): {v.statement} — critique: {v.critique}")
    return lines


def tournament_lines(t: Tournament | None, report: HypothesisReport) -> list[str]:
    if t is None:
        return []
    head = (
        f"Tournament: {len(t.matches)} matches ({t.pairing}, {t.rounds} round{'s' * (t.rounds != 1)}), each "
        f"judged in both orders (a split decision is a draw); Elo K {t.k:g}, start {t.start:g}, "
        f"± = std over {t.bootstrap} bootstrap resamples."
    )
    lines = [head]
    names = {c.id: f"{c.id} {c.concepts[0].label}" for c in report.contexts}
    for m in t.matches:
        result = "draw" if m.winner == "draw" else f"{names.get(m.winner, m.winner)} wins"
        lines.append(f"  - {names.get(m.a, m.a)} vs {names.get(m.b, m.b)}: {result} — {m.reason}")
    for g in t.merged:
        lines.append(
            f"Merged {g.id} ({g.role}) into {names.get(g.into, g.into)}: similarity {g.similarity:.2f} "
            f">= {t.dedup_threshold:g}: {g.statement}"
        )
    return lines


def rubric_text(r: ContextResult) -> str:
    k = r.review.rubric
    return (
        f"novelty {k.novelty}, plausibility {k.plausibility}, testability {k.testability}, specificity {k.specificity}"
    )


def evidence_lines(v: Validation | None) -> list[str]:
    """The claim check with its numbers; nothing when the predictor had nothing to say (no numbers and no
    defect request: a plain question's "out of scope" stays in the JSON, not in the reading)."""
    if v is None or not v.applies:
        return []
    lines = [f"Evidence: {v.verdict} — {v.summary}"]
    first = (v.request.target,) if v.request else ()
    order = tuple(dict.fromkeys(first + registry().names()))  # the claim's property first, then the others
    for p in v.predictions[:8]:
        x = f" at {p.variable_value:.2f}" if p.variable_value is not None else ""
        flag = "" if p.in_domain else " (out of domain)"
        lines.append(f"  - {p.label}{x}: {registry().describe(p, order, fmt='.3f')}{flag}")
    return lines


def source_lines(r: ContextResult) -> list[str]:
    """Novelty, numbered sources and citation flags of a grounded context (nothing otherwise)."""
    lines = []
    if r.novelty is not None:
        closest = (
            f" (closest: {r.novelty.closest_title}, similarity {r.novelty.similarity:.2f})"
            if r.novelty.closest_title
            else ""
        )
        lines.append(f"Novelty against the library: {r.novelty.score:.2f}{closest}")
    for i, src in enumerate(r.sources, 1):
        page = f", p. {src.page}" if src.page else ""
        lines.append(f"  [S{i}] {src.title} ({src.id}{page}; score {src.score:.2f})")
    for f in r.citation_flags:
        lines.append(f"  flagged [{f.ref}] {f.problem}: {f.sentence}")
    return lines


def planned_lines(e: Evidence | None) -> list[str]:
    """The predictor facts the generator was given ([E1], [E2] ...), or nothing for other questions."""
    if e is None or not e.facts:
        return []
    lines = [f"Planned evidence: {e.summary}"]
    lines += [f"  [E{i}] {f.summary}" for i, f in enumerate(e.facts, 1)]
    if e.assumptions:
        lines.append("  Assumed: " + "; ".join(e.assumptions))
    return lines


def flags_line(flags: dict[str, list[str]]) -> list[str]:
    """Fields that stayed weak after one regeneration, so a reader never takes them for checked prose."""
    if not flags:
        return []
    return ["Weak text: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in sorted(flags.items()))]


def _block(lines: list[str]) -> list[str]:
    """A Markdown block: its lines and a blank line after them, or nothing when there are none."""
    return [*lines, ""] if lines else []


def to_markdown(report: HypothesisReport) -> str:
    out = [f"# Hypotheses for: {report.query}", ""]
    for i, r in enumerate(report.contexts, 1):
        out += [f"## {context_title(i, r)}", "", f"**Summary.** {r.summary}", ""]
        out += _block(planned_lines(r.evidence))
        out += [f"**Hypothesis.** {r.hypothesis.statement}", "", f"**Rationale.** {r.hypothesis.rationale}", ""]
        out += [f"{j}. {s}" for j, s in enumerate(r.hypothesis.steps, 1)] + [""]
        out += [f"**Review.** {r.review.text} ({rubric_text(r)})", "", f"**Score.** {r.review.score}", ""]
        out += _block(evidence_lines(r.validation))
        out += _block([f"_{x}_" for x in flags_line(r.quality_flags)])
        out += _block(source_lines(r))
        out += _block(record_lines(report, r))
    if report.tournament is not None:
        out += ["## Tournament", "", *tournament_lines(report.tournament, report), ""]
    s = report.synthesis
    out += [
        "## Representation and Hypothesis",
        "",
        f"**Representation.** {s.representation}",
        "",
        f"**Hypothesis.** {s.hypothesis}",
        "",
    ]
    out += [f"{j}. {step}" for j, step in enumerate(s.steps, 1)] + [""]
    out += evidence_lines(s.validation)
    out += [f"_{x}_" for x in flags_line(s.quality_flags)]
    run = report.run
    out += [
        "",
        f"_model {run.model} ({run.provider}), temperature {run.temperature}, "
        f"{run.prompt_tokens}+{run.completion_tokens} tokens, {run.seconds:.1f} s"
        f"{', from cache' if run.cached else ''}_",
        "",
    ]
    return "\n".join(out)


def print_text(report: HypothesisReport, console) -> None:
    """The seed's layout, in the terminal."""
    from rich.markup import escape
    from rich.panel import Panel

    for i, r in enumerate(report.contexts, 1):
        body = [
            f"[bold]Summary:[/] {r.summary}",
            *(escape(x) for x in planned_lines(r.evidence)),
            f"[bold]Hypothesis:[/] {r.hypothesis.statement}",
            f"[bold]Review:[/] {r.review.text}",
            f"[dim]{rubric_text(r)}[/]",
            f"[bold]Score:[/] {r.review.score}",
        ]
        body += evidence_lines(r.validation) + [f"[dim]{escape(x)}[/]" for x in flags_line(r.quality_flags)]
        body += [escape(line) for line in source_lines(r)] + [escape(x) for x in record_lines(report, r)]
        console.print(Panel("\n".join(body), title=context_title(i, r), title_align="left"))
    if report.tournament is not None:
        console.print(
            Panel(
                escape("\n".join(tournament_lines(report.tournament, report))),
                title="Tournament",
                title_align="left",
                border_style="blue",
            )
        )
    s = report.synthesis
    steps = "\n".join(f"  {j}. {step}" for j, step in enumerate(s.steps, 1))
    body = (
        [
            f"[bold]Representation:[/] {s.representation}",
            f"[bold]Hypothesis:[/] {s.hypothesis}",
            f"[bold]Steps:[/]\n{steps}",
        ]
        + evidence_lines(s.validation)
        + [f"[dim]{escape(x)}[/]" for x in flags_line(s.quality_flags)]
    )
    console.print(
        Panel("\n".join(body), title="Representation and Hypothesis", title_align="left", border_style="green")
    )
    run = report.run
    console.print(
        f"[dim]model {run.model} ({run.provider}) · T={run.temperature} · "
        f"{run.prompt_tokens}+{run.completion_tokens} tokens · {run.llm_calls} LLM calls · "
        f"{run.seconds:.1f} s{' · from cache' if run.cached else ''}[/]"
    )


def contexts_csv(report: HypothesisReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "rank",
            "role",
            "framework",
            "concept",
            "summary",
            "statement",
            "review",
            "score",
            "novelty",
            "plausibility",
            "testability",
            "specificity",
            "verdict",
            "rank_score",
            "id",
            "elo",
            "elo_std",
            "wins",
            "draws",
            "losses",
            "revisions",
        ]
    )
    for i, r in enumerate(report.contexts, 1):
        k = r.review.rubric
        g = rating_of(report, r)
        w.writerow(
            [
                i,
                r.role,
                r.framework,
                r.concepts[0].label,
                r.summary,
                r.hypothesis.statement,
                r.review.text,
                r.review.score,
                k.novelty,
                k.plausibility,
                k.testability,
                k.specificity,
                r.validation.verdict if r.validation else "",
                r.rank_score,
                r.id,
                *((g.elo, g.std, g.wins, g.draws, g.losses) if g else ("",) * 5),
                len(r.revisions),
            ]
        )
    return buf.getvalue()
