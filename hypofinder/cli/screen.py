"""``hypofinder defects screen``: rank every placement of a defect set in a host (inverse design)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from hypofinder.errors import BadInputError
from hypofinder.outfiles import write_atomic
from hypofinder.prediction import PropertyPrediction, spec


def screen_cmd(
    host: str = typer.Option(..., "--host", help="MoS2, WSe2, BN (h-BN), GaSe, InSe, P (black P)"),
    defects: str = typer.Option(
        ..., "--defects", help="Tokens, e.g. 'vS,vS,W_Mo' (vS = S vacancy, W_Mo = W on a Mo site)"
    ),
    target: str = typer.Option("homo_lumo_gap", "--target", help=", ".join(PropertyPrediction.targets())),
    maximize: bool = typer.Option(False, "--maximize/--minimize", help="Rank the largest (or smallest) first."),
    limit: int = typer.Option(10, "--limit", "-n", help="How many of the best to show and export (1-100)."),
    max_configs: int = typer.Option(50_000, "--max-configs", help="At most this many distinct configurations."),
    density: Optional[str] = typer.Option(None, "--density", help="low or high (MoS2/WSe2) [default: by defect count]"),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling large spaces."),
    cif_dir: Optional[Path] = typer.Option(None, "--cif-dir", help="Write the best structures here as CIF files."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (without CIF text; paths when --cif-dir)."),
) -> None:
    """Enumerate symmetry-distinct defect configurations, predict them all, show the best."""
    from hypofinder.defects.screening import screen

    if density is not None and density not in ("low", "high"):
        raise BadInputError(f"--density must be low or high, got {density!r}")
    if cif_dir is not None and cif_dir.exists() and not cif_dir.is_dir():
        raise BadInputError(f"--cif-dir {cif_dir} exists and is not a folder")
    result = screen(
        host,
        defects,
        target=target,
        maximize=maximize,
        limit=limit,
        max_configs=max_configs,
        seed=seed,
        density=density,
        with_cif=cif_dir is not None,
    )
    if cif_dir is not None:
        _write_cifs(result, cif_dir)
    if as_json:
        typer.echo(result.model_dump_json(indent=1, exclude={"best": {"__all__": {"cif"}}}))
    else:
        _table(result)


def _write_cifs(result, folder: Path) -> None:
    """One CIF per ranked configuration; each written to a temp name, then renamed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot create --cif-dir {folder}: {exc.strerror or exc}") from exc
    for c in result.best:
        safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", c.label.replace("@", "-"))
        path = folder / f"{result.subset}_rank{c.rank:02d}_{safe}.cif"
        write_atomic(path, c.cif or "")
        c.cif_path = str(path)


def _table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    t = result.timing
    order = "largest" if result.maximize else "smallest"
    title = (
        f"{result.host} ({result.subset}, {result.supercell[0]}x{result.supercell[1]}) + {', '.join(result.defects)}: "
        f"{order} {result.target} of {result.n_distinct} distinct configurations"
        f"{'' if result.exhaustive else ' (sampled)'}"
    )
    tab = Table(title=title)
    shown = [k for k in PropertyPrediction.targets() if any(getattr(c, k) is not None for c in result.best)]
    for col in (
        "#",
        "configuration (token@site)",
        *(PropertyPrediction.header(k) for k in shown),
        "min/mean d (Å)",
        "in domain",
        "CIF",
    ):
        tab.add_column(col)
    for c in result.best:
        d = "-" if c.min_distance is None else f"{c.min_distance:.2f} / {c.mean_distance:.2f}"
        tab.add_row(
            str(c.rank),
            c.label,
            *(spec(k).value(*spec(k).of(c), unit=False, fmt=".3f") for k in shown),
            d,
            "yes" if c.in_domain else "[yellow]no[/yellow]",
            c.cif_path or "",
        )
    console = Console(width=200)
    console.print(tab)
    console.print(
        f"{result.n_space:.3g} placements, {result.n_generated} generated, {result.n_distinct} distinct "
        f"({result.symmetry_ops} symmetry operations); time: generate {t.generate_s:.2f} s, graphs {t.graphs_s:.2f} s, "
        f"predict {t.predict_s:.2f} s ({result.configs_per_s:,.0f} configs/s), export {t.export_s:.2f} s"
    )


__all__ = ["screen_cmd"]
