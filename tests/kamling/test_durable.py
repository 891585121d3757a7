"""kamling.durable: the one atomic write (temp file, fsync, rename, fsync of the folder), with a mode."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
from pathlib import Path

import pytest

from kamling import durable
from kamling.durable import atomic_write
from tests.support import wait_for


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """What os.fsync was called on, in order: ("file", path) or ("dir", path), read back from the fd."""
    synced: list[tuple[str, Path]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        synced.append(("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file", path))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


def test_the_file_then_the_folder_are_fsynced(tmp_path: Path, fsyncs: list[tuple[str, Path]]) -> None:
    target = tmp_path / "data.json"
    atomic_write(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    # The temp file's data before the rename, the folder after it (or the rename may not survive a power cut).
    assert fsyncs == [("file", tmp_path / ".data.json.tmp"), ("dir", tmp_path)]


def test_replacing_a_file_fsyncs_its_folder_each_time(tmp_path: Path, fsyncs: list[tuple[str, Path]]) -> None:
    target = tmp_path / "sub" / "x.bin"
    target.parent.mkdir()
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [kind for kind, _ in fsyncs] == ["file", "dir", "file", "dir"]
    assert fsyncs[1] == ("dir", target.parent) and fsyncs[3] == ("dir", target.parent)


def test_text_is_written_as_utf8(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    atomic_write(target, "Pos Kamling RW 01 \u2013 aman\n")  # an en dash: text is written as UTF-8
    assert target.read_text(encoding="utf-8") == "Pos Kamling RW 01 \u2013 aman\n"


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_mode_is_exact_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "secret"
    old_umask = os.umask(0o077)  # would strip group and other bits from a plain create
    try:
        atomic_write(target, "s3cret", mode=mode)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_secret_is_never_readable_by_others_even_over_a_leftover_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "passwd"
    leftover = tmp_path / ".passwd.tmp"
    leftover.write_text("old")
    leftover.chmod(0o666)  # an earlier crash left a world-readable temp: O_CREAT keeps its mode
    seen: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the mode while the secret is in the file
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write(target, "hash", mode=0o600)
    assert seen == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "hash"


def test_without_a_mode_the_umask_applies(tmp_path: Path) -> None:
    target = tmp_path / "plain"
    old_umask = os.umask(0o022)
    try:
        atomic_write(target, b"x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_content_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "data.json"
    atomic_write(target, b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]  # the half-written temp is gone


def test_a_temp_that_cannot_be_created_leaves_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    atomic_write(target, b"old")
    (tmp_path / ".data.json.tmp").mkdir()  # the temp file cannot be created
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    (tmp_path / ".data.json.tmp").rmdir()
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_temp_path_is_hidden_in_the_same_folder(tmp_path: Path) -> None:
    assert durable.temp_path(tmp_path / "alerts.json") == tmp_path / ".alerts.json.tmp"


def _rewrite_forever(path: str, ready: str) -> None:
    """Child process: alternate two large contents until killed."""
    old = b"A" * 4_000_000
    new = b"B" * 4_000_000
    target = Path(path)
    atomic_write(target, old)
    Path(ready).touch()
    while True:
        atomic_write(target, new)
        atomic_write(target, old)


def test_a_write_killed_midway_leaves_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    ready = tmp_path / "ready"
    ctx = multiprocessing.get_context("spawn")
    for _ in range(2):
        ready.unlink(missing_ok=True)
        proc = ctx.Process(target=_rewrite_forever, args=(str(target), str(ready)))
        proc.start()
        try:
            wait_for(ready.exists, timeout=30, what="writer running")
            # Wait until the temp file exists: the kill then lands in the middle of a rewrite.
            wait_for((tmp_path / ".data.bin.tmp").exists, timeout=30, what="a rewrite in progress")
            assert proc.pid is not None
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
        finally:
            if proc.is_alive():
                proc.kill()
        content = target.read_bytes()
        assert content in (b"A" * 4_000_000, b"B" * 4_000_000)
