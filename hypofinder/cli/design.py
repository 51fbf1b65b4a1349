"""``hypofinder defects design``: from a wanted property to defect configurations (inverse design)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import typer

from hypofinder.defects.design_options import (
    DEFAULT_BUDGET,
    DEFAULT_COUNTS,
    DEFAULT_LIMIT,
    DEFAULT_TOLERANCE,
    MAX_LIMIT,
    METHODS,
    WARM_START,
)
from hypofinder.errors import BadInputError


def design_cmd(
    host: str = typer.Option(..., "--host", help="MoS2, WSe2, BN (h-BN), GaSe, InSe, P (black P)"),
    target: Optional[str] = typer.Option(None, "--target", help="PROPERTY=VALUE, e.g. homo_lumo_gap=1.2"),
    maximize: Optional[str] = typer.Option(None, "--maximize", help="PROPERTY to make as large as possible"),
    minimize: Optional[str] = typer.Option(None, "--minimize", help="PROPERTY to make as small as possible"),
    tolerance: float = typer.Option(
        DEFAULT_TOLERANCE, "--tolerance", help="Within this of the target value (its unit)."
    ),
    species: Optional[str] = typer.Option(
        None, "--species", help="e.g. 'vS,vMo,W_Mo,Se_S' (default: the host's 2DMD species)"
    ),
    defects: str = typer.Option(DEFAULT_COUNTS, "--defects", help="Defect count range, e.g. 1-6 or 3."),
    density: Optional[str] = typer.Option(
        None, "--density", help="low or high (MoS2/WSe2; default: by defect count, as screen)"
    ),
    budget: int = typer.Option(DEFAULT_BUDGET, "--budget", help="Predictor calls (distinct configurations) at most."),
    seed: int = typer.Option(0, "--seed", help="Seed of the optimizer."),
    limit: int = typer.Option(
        DEFAULT_LIMIT, "--limit", "-n", help=f"Best candidates to show and export (1-{MAX_LIMIT})."
    ),
    method: str = typer.Option(
        "auto", "--method", help=f"{', '.join(METHODS)}: auto = exhaustive when it fits the budget, else ga"
    ),
    warm_start: int = typer.Option(
        WARM_START,
        "--warm-start",
        help="Labelled 2DMD structures nearest the goal that open the optimizer's first population (0: none).",
    ),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (predictions on Ray actors)."),
    workers: int = typer.Option(2, "--workers", help="Ray actors (--engine ray)."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="Ray cluster address (--engine ray; default: a local Ray)"
    ),
    cif_dir: Optional[Path] = typer.Option(None, "--cif-dir", help="Write the candidates' CIF files here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (without CIF text; paths when --cif-dir)."),
) -> None:
    """Search defect compositions and arrangements for a wanted property; print the best and the Pareto front."""
    from hypofinder.defects.design import design

    name, value, maximise = _goal(target, maximize, minimize)
    if cif_dir is not None and cif_dir.exists() and not cif_dir.is_dir():
        raise BadInputError(f"--cif-dir {cif_dir} exists and is not a folder")
    if engine not in ("local", "ray"):
        raise BadInputError(f"--engine must be local or ray, got {engine!r}")
    if workers < 1:
        raise BadInputError(f"--workers must be at least 1, got {workers}")
    kw = dict(
        value=value,
        maximize=maximise,
        tolerance=tolerance,
        species=species,
        counts=defects,
        density=density,
        budget=budget,
        seed=seed,
        limit=limit,
        method=method,
        with_cif=cif_dir is not None,
        warm_start=warm_start,
    )
    if engine == "ray":
        design(host, name, **kw, dry_run=True)  # bad input: one line before Ray starts
        from hypofinder.defects.remote import RayPredictor
        from hypofinder.mining.engines import start_ray

        ray, started = start_ray(workers, ray_address)
        predictor = None
        try:
            predictor = RayPredictor(ray, workers)
            result = design(host, name, **kw, predictor=predictor)
        finally:
            if predictor is not None:
                predictor.close()
            if started:
                ray.shutdown()
    else:
        result = design(host, name, **kw)
    if cif_dir is not None:
        _write_cifs(result, cif_dir)
    if as_json:
        skip = {"__all__": {"cif"}}
        typer.echo(result.model_dump_json(indent=1, exclude={"best": skip, "pareto": skip}))
    else:
        _table(result)


def _goal(target: str | None, maximize: str | None, minimize: str | None) -> tuple[str, float | None, bool | None]:
    """(property, value, maximise?) from exactly one of --target P=V, --maximize P, --minimize P."""
    given = [x for x in (target, maximize, minimize) if x is not None]
    if len(given) != 1:
        raise BadInputError("give exactly one of --target PROPERTY=VALUE, --maximize PROPERTY, --minimize PROPERTY")
    if target is None:
        return (maximize or minimize or "").strip(), None, maximize is not None
    m = re.fullmatch(r"\s*([A-Za-z_]+)\s*=\s*([-+0-9.eE]+)\s*", target)
    if not m:
        raise BadInputError(f"bad --target {target!r}: use PROPERTY=VALUE, e.g. homo_lumo_gap=1.2")
    try:
        return m.group(1), float(m.group(2)), None
    except ValueError:
        raise BadInputError(f"bad --target value in {target!r}: not a number") from None


def _write_cifs(result, folder: Path) -> None:
    """Every candidate's CIF, written into a temp folder beside ``folder`` and moved in at the end."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as exc:
        raise BadInputError(f"cannot write to --cif-dir {folder}: {exc.strerror or exc}") from exc
    try:
        done: dict[str, Path] = {}
        for c in [*result.best, *result.pareto]:
            if c.label in done:
                c.cif_path = str(done[c.label])
                continue
            safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", c.label.replace("@", "-"))[:150]
            name = f"{c.subset}_rank{c.rank:03d}_{safe}.cif"
            (tmp / name).write_text(c.cif or "")
            done[c.label] = folder / name
            c.cif_path = str(folder / name)
        for path in done.values():
            (tmp / path.name).replace(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from hypofinder.models import PropertyPrediction
    from hypofinder.prediction import spec

    unit = result.unit
    if result.goal == "target":
        what = f"{result.target} = {result.value:g} ± {result.tolerance:g} {unit}"
    else:
        what = f"{result.goal} {result.target}"
    shown = [k for k in PropertyPrediction.targets() if any(getattr(c, k) is not None for c in result.best)]
    console = Console(width=220)
    n = len(result.best)
    more = f", first {n} of {len(result.pareto)} (all in --json)" if len(result.pareto) > n else ""
    front = f"Pareto front (distance to the target or value, formation energy, σ){more}"
    for title, rows in (("best", result.best), (front, result.pareto[:n])):
        tab = Table(title=f"{result.host}: {what}: {title}")
        cols = ["#", "defects", "subset", *(PropertyPrediction.header(k) for k in shown)]
        for col in (*cols, f"2σ interval ({unit})", "in domain", "CIF"):
            tab.add_column(col)
        for c in rows:
            comp = " + ".join(f"{t}×{n}" if n > 1 else t for t, n in c.composition.items())
            tab.add_row(
                str(c.rank),
                comp,
                c.subset,
                *(spec(k).value(*spec(k).of(c), unit=False, fmt=".3f") for k in shown),
                f"{c.interval[0]:.3f} – {c.interval[1]:.3f}",
                "yes" if c.in_domain else "[yellow]no[/yellow]",
                c.cif_path or "",
            )
        console.print(tab)
    hit = f"first in tolerance after {result.first_hit} calls" if result.first_hit else "none in tolerance"
    console.print(
        f"{result.method}: {result.calls} configurations predicted (budget {result.budget}"
        f"{'' if result.n_space is None else f', space {result.n_space}'}), {result.n_in_domain} in domain, "
        f"{result.n_within} within tolerance, {hit}; {result.wall_s:.1f} s. Intervals: prediction ± 2σ, "
        f"{result.interval_coverage:.0%} of held-out errors inside."
    )


__all__ = ["design_cmd"]
