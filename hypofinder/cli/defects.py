"""``hypofinder defects``: train, predict and evaluate the 2D-defect property predictor."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from hypofinder.cli.design import design_cmd
from hypofinder.cli.screen import screen_cmd

app = typer.Typer(
    help="Defect-property predictor for 2D materials (2DMD data, sparse defect graphs).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def train(
    data: Optional[Path] = typer.Option(None, "--data", help="2DMD folder [default: <data-dir>/2dmd]"),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Where to write weights [default: the shipped weights folder]"
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (training is reproducible for a seed)."),
    epochs: Optional[int] = typer.Option(
        None, "--epochs", help="Graph-network epochs (0 = LightGBM only) [default: per group]."
    ),
) -> None:
    """Train the shipped models on the 2DMD data and write weights + metadata.json."""
    from hypofinder.defects.train import train as run_train
    from hypofinder.settings import settings

    data = settings().require(Path(data) if data else settings().dmd_dir, "2DMD data")
    out = Path(out) if out else Path(settings().models_dir)
    meta = run_train(data, out, seed=seed, gnn_epochs=epochs, log=typer.echo)
    typer.echo(f"training time: {meta['train_seconds']:.1f} s ({meta['threads']} threads)")


@app.command()
def predict(
    files: list[Path] = typer.Argument(..., help="Defective supercells (CIF) of one host"),
    host: Optional[str] = typer.Option(
        None, "--host", help="MoS2, WSe2, BN (h-BN), GaSe, InSe, P (black P) [default: detect]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (a list, one object per file)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights folder [default: shipped]"),
) -> None:
    """Predict formation energy per site, HOMO-LUMO gap, HOMO/LUMO levels (eV) and magnetization (μB) per file."""
    from hypofinder.defects.hosts import canonical_host
    from hypofinder.defects.predictor import DefectPredictor
    from hypofinder.errors import BadInputError

    if host is not None:
        canonical_host(host)  # unknown host: one line listing the known ones, exit 2
    predictor = DefectPredictor.load(weights)
    results = predictor.predict(list(files), host=host)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=1))
    else:
        _table(results)
    if results and all(r.error for r in results):
        # a HypofinderError, not typer.Exit: hypofinder.cli.main() turns it into exit code 2
        raise BadInputError(f"no prediction: all {len(results)} file(s) failed")


def _table(results) -> None:
    from rich.console import Console
    from rich.table import Table

    from hypofinder.prediction import PropertyPrediction, spec

    targets = PropertyPrediction.targets()
    t = Table(title="Defect predictions (± = uncertainty, 1σ; levels from the host's valence-band maximum)")
    for col in ("file", "host", "defects", *(PropertyPrediction.header(k) for k in targets), "in domain"):
        t.add_column(col)
    for r in results:
        if r.error:
            t.add_row(r.file, r.host or "", f"error: {r.error}", *[""] * (len(targets) + 1), style="red")
            continue
        toks = " ".join(r.defects) if len(r.defects) <= 8 else " ".join(r.defects[:8]) + f" … ({len(r.defects)})"
        t.add_row(
            r.file,
            f"{r.host} ({r.subset})",
            toks,
            *(spec(k).value(*spec(k).of(r), unit=False, fmt=".3f") for k in targets),
            "yes" if r.in_domain else "[yellow]no[/yellow]: " + "; ".join(r.domain_notes),
        )
    Console(width=200).print(t)


@app.command()
def evaluate(
    data_dir: Path = typer.Argument(..., help="Folder with the 2DMD layout (subset folders, or one subset)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON {'subsets': {...}}."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights folder [default: shipped]"),
) -> None:
    """Mean absolute error (meV) of the shipped models on every subset found in DATA_DIR."""
    from hypofinder.defects.evaluate import TARGETS, evaluate_dir
    from hypofinder.prediction import spec

    report = evaluate_dir(data_dir, weights=weights, warn=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(report))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"MAE (meV) of the shipped models on {data_dir}")
    for col in ("subset", "n", *(spec(k).title for k in TARGETS)):
        t.add_column(col, justify="right")
    for name, r in report["subsets"].items():
        t.add_row(name, str(r["n"]), *(f"{r[k]['mae_mev']:.1f}" for k in TARGETS))
    Console(width=120).print(t)


app.command("screen")(screen_cmd)
app.command("design")(design_cmd)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
