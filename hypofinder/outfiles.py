"""Output files written safely: checked before any work, replaced atomically after it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypofinder.errors import BadInputError


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file + rename in the same folder: never a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_out_path(out: Path, inputs: Path | None = None) -> None:
    """One clear line before any work when the output cannot be written."""
    if out.is_dir():
        raise BadInputError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise BadInputError(f"--out folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise BadInputError(f"--out folder {out.parent} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise BadInputError(f"--out {out} is not writable")
    if inputs is not None and out.exists() and inputs.exists() and out.samefile(inputs):
        raise BadInputError("--out must differ from the question file")
