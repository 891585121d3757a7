"""Durable file writes: the one atomic replace of a file used by the hub, the edge and the tools.

A plain `open(path, "w")` truncates first and writes after, so a power cut in between leaves a
zero-length or half-written file. `atomic_write` writes a temp file in the same folder (a
rename is atomic only within one file system), fsyncs it, renames it over the target, and
fsyncs the folder: without that last fsync the rename itself may not survive a power cut, and
the old file (or none) comes back after the reboot.

One writer per file at a time: the callers serialise (one writer thread, or an fcntl lock
shared with the CLI). The temp name is fixed (`.<name>.tmp`) so that a crash leaves at most
one leftover per file, which the next write replaces and a store may remove at open.
"""

from __future__ import annotations

import os
from pathlib import Path


def temp_path(path: Path) -> Path:
    """Where `atomic_write` stages the new content of `path` (hidden, in the same folder)."""
    return path.with_name(f".{path.name}.tmp")


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (the directory's own metadata)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file, whole.

    `mode` sets the file's permission bits exactly (0o600 for secrets, 0o644 for a public
    certificate), whatever the umask; the temp file has them before the first byte is written,
    so a secret is never readable by others, not even for a moment. Without `mode` the file is
    created as `open()` would (0o666 less the umask). Text is written as UTF-8.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)  # a leftover temp file keeps its old mode through O_CREAT
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the target is untouched; leave no half-written temp behind
        raise
    fsync_dir(path.parent)
