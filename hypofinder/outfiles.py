"""Files for people: inputs read with one clear error line, outputs checked before any work and replaced
atomically after it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypofinder.errors import BadInputError


def write_atomic(path: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Write via a temp file + rename in the same folder: never a half-written file. An existing file keeps
    its permissions; ``durable`` also fsyncs the file and its folder (survives a power cut)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


def read_input_text(path: Path, what: str) -> str:
    """The whole UTF-8 text of an input file (a BOM dropped, line ends kept), or one clear line why not."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{what} {path} not found" if not path.exists() else f"{path} is not a file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
