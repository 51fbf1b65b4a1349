"""Sentence embeddings for key-point matching: the ontology room's all-MiniLM-L6-v2, behind one function.

Swap the encoder here (today the ontology room's ONNX build of it) and nothing else changes; the
calibrated threshold in ``metrics`` belongs to this model.
"""

from __future__ import annotations

import numpy as np


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (an empty list gives a 0-row array)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    from hypofinder.ontology.index import encode
    from hypofinder.settings import settings

    vectors = np.asarray(encode(list(texts), settings().cache_dir), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Embeddings:
    """Texts embedded once, in one batch, then looked up by text."""

    def __init__(self, texts):
        unique = list(dict.fromkeys(t for t in texts if t))
        self._row = {t: i for i, t in enumerate(unique)}
        self._vectors = embed(unique)

    def matrix(self, texts: list[str]) -> np.ndarray:
        return self._vectors[[self._row[t] for t in texts]] if texts else np.zeros((0, self._vectors.shape[1]))
