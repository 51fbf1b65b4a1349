"""Speed of the defect predictor: structures/s from CIF and from graphs, vs CHGNet single-point.

Goals: >= 500 structures/s from CIF, >= 10^4 graphs/s (also high-density graphs alone, full ensemble),
>= 100x faster than CHGNet
(CHGNet 0.3.0 energy of the same unrelaxed supercells, CPU, weights from its wheel).

    python benchmarks/bench_defects_speed.py [--n 2000] [--chgnet 8]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypofinder.defects.data import iter_tar_cifs, load_dataset, subset_dirs  # noqa: E402
from hypofinder.defects.graph import read_structure_text  # noqa: E402
from hypofinder.defects.predictor import DefectPredictor  # noqa: E402
from hypofinder.settings import settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="CIFs to predict (spread over all subsets)")
    ap.add_argument("--graphs", type=int, default=20000, help="graphs for the graph fast path")
    ap.add_argument("--chgnet", type=int, default=8, help="structures through CHGNet (0 = skip)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    data = settings().dmd_dir
    folders = subset_dirs(data)
    per = max(1, args.n // len(folders))
    texts = []
    for f in folders:
        texts += [t for _, t in itertools.islice(iter_tar_cifs(f / "structures.tar.gz"), per)]
    t0 = time.perf_counter()
    predictor = DefectPredictor.load()
    print(f"load weights: {time.perf_counter() - t0:.2f} s (once per process)")

    predictor.predict(texts[:20])  # warm-up
    t0 = time.perf_counter()
    res = predictor.predict(texts)
    dt = time.perf_counter() - t0
    assert not any(r.error for r in res)
    cif_rate = len(texts) / dt
    print(
        f"from CIF text (parse + match + graph + ensemble, host detected): {cif_rate:8.0f} structures/s  (goal >= 500)"
    )

    ds = load_dataset(data)
    graphs = list(itertools.islice(itertools.cycle([g for s in ds.values() for g in s.graphs]), args.graphs))
    predictor.predict_graphs(graphs[:100])
    t0 = time.perf_counter()
    predictor.predict_graphs(graphs)
    g_rate = len(graphs) / (time.perf_counter() - t0)
    print(f"from graphs (predict_graphs, ensemble + domain check):          {g_rate:8.0f} graphs/s     (goal >= 10^4)")
    for dens in ("low", "high"):
        pool = [g for s in ds.values() if s.name.startswith(dens) for g in s.graphs]
        sub = list(itertools.islice(itertools.cycle(pool), args.graphs))
        t0 = time.perf_counter()
        predictor.predict_graphs(sub)
        rate = len(sub) / (time.perf_counter() - t0)
        goal = "  (goal >= 10^4, mixed defect counts in padded batches)" if dens == "high" else ""
        print(f"  {dens}-density graphs only ({len(pool)} distinct):                   {rate:8.0f} graphs/s{goal}")
    t0 = time.perf_counter()
    predictor.predict_graphs(graphs, fast=True)
    print(
        f"from graphs, fast=True (LightGBM member only):                  {len(graphs) / (time.perf_counter() - t0):8.0f} graphs/s"
    )

    if args.chgnet:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from chgnet.model import CHGNet

            model = CHGNet.load(verbose=False)
            # the same kind of structures: spread over subsets
            step = max(1, len(texts) // args.chgnet)
            structs = [read_structure_text(t) for t in texts[::step][: args.chgnet]]
            model.predict_structure(structs[:1], task="e")
            t0 = time.perf_counter()
            model.predict_structure(structs, task="e", batch_size=4)
            c_rate = len(structs) / (time.perf_counter() - t0)
        mean_atoms = sum(len(s) for s in structs) / len(structs)
        print(
            f"CHGNet single-point energy ({len(structs)} structures, {mean_atoms:.0f} atoms avg): {c_rate:8.2f} structures/s"
        )
        print(f"speed-up from CIF vs CHGNet: {cif_rate / c_rate:8.0f}x  (goal >= 100x)")


if __name__ == "__main__":
    main()
