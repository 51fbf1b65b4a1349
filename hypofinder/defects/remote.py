"""The defect predictor spread over Ray actors: ``RayPredictor(ray, workers)`` has the ``predict_graphs`` of
``DefectPredictor`` (each batch split into one part per actor, the parts predicted in parallel and put back
in order) and delegates everything else (metadata, ``require``) to the local predictor. The caller starts
Ray (``hypofinder.mining.engines.start_ray``: a local Ray, or a cluster address) and passes the module in."""

from __future__ import annotations

import numpy as np

from hypofinder.defects.batch import GraphBatch
from hypofinder.errors import HypofinderError, one_line

READY_S = 180.0  # seconds for the actors to start and load the weights
MIN_PART = 256  # graphs per actor at least: smaller batches are predicted here (Ray's overhead is ~ms per call)


class _PredictorActor:
    """Ray actor body: the predictor loaded once from the driver's weights folder."""

    def __init__(self, models_dir: str):
        from hypofinder.defects.predictor import DefectPredictor

        self.predictor = DefectPredictor.load(models_dir)

    def predict(self, batch: GraphBatch, fast: bool) -> dict:
        return self.predictor.predict_graphs(batch, fast=fast)


class RayPredictor:
    """``predict_graphs`` over ``workers`` Ray actors; the rest is the local ``DefectPredictor``'s."""

    def __init__(self, ray, workers: int, models_dir=None):
        from hypofinder.defects.predictor import DefectPredictor
        from hypofinder.settings import settings

        self.ray = ray
        self.local = DefectPredictor.load(models_dir)
        path = str(models_dir or settings().models_dir)
        actor = ray.remote(num_cpus=1)(_PredictorActor)
        self.actors = [actor.remote(path) for _ in range(max(1, int(workers)))]
        self.remote_graphs = 0  # graphs predicted by the actors (the rest here)
        try:  # each actor loaded its predictor: one clear line, not a hang, when they cannot start
            ray.get([a.__ray_ready__.remote() for a in self.actors], timeout=READY_S)
        except Exception as exc:  # noqa: BLE001 - GetTimeoutError, RayActorError: one line
            self.close()
            why = one_line(exc, 200)
            raise HypofinderError(f"Ray predictor actors did not start within {READY_S:.0f} s: {why}") from None

    def __getattr__(self, name: str):
        return getattr(self.local, name)

    def predict_graphs(self, graphs, fast: bool = False) -> dict[str, np.ndarray]:
        batch = graphs if isinstance(graphs, GraphBatch) else GraphBatch.from_graphs(list(graphs))
        n = batch.n_graphs
        parts = min(len(self.actors), n // MIN_PART)
        if parts < 2:
            return self.local.predict_graphs(batch, fast=fast)
        cuts = np.array_split(np.arange(n), parts)
        refs = [a.predict.remote(batch.select(idx), fast) for a, idx in zip(self.actors, cuts)]
        outs = self.ray.get(refs)
        self.remote_graphs += n
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []


__all__ = ["RayPredictor"]
