"""``storage_cause``: why a write failed, in words a clinician can act on."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from voxrad.core.errors import VoxRadError, storage_cause, storage_hint


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "its folder is read-only"),
        (errno.EACCES, "its folder is read-only"),
        (errno.EIO, "the disk reported an error"),
        (errno.ENOENT, ""),
    ],
)
def test_os_errors(code: int, cause: str) -> None:
    assert storage_cause(OSError(code, os.strerror(code))) == cause


def test_a_wrapped_error_still_names_its_cause() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise VoxRadError("The report could not be written.") from exc
    except VoxRadError as wrapped:
        assert storage_cause(wrapped) == "the disk is full"


def test_real_sqlite_errors(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    db.execute("CREATE TABLE t (a TEXT)")
    db.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.Error) as caught:
        db.execute("INSERT INTO t VALUES ('x')")
    assert storage_cause(caught.value) == "its folder is read-only"
    db.execute("PRAGMA query_only = OFF")
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.Error) as caught:
        db.execute("INSERT INTO t VALUES (?)", ("x" * 20_000,))
    assert storage_cause(caught.value) == "the disk is full"
    assert storage_cause(sqlite3.OperationalError("no such table: t")) == ""
    db.close()


def test_hints_name_the_folder() -> None:
    assert "/data/voxrad" in storage_hint("the disk is full", "/data/voxrad")
    assert "writable" in storage_hint("its folder is read-only", "/data/voxrad")
    assert storage_hint("", "/data/voxrad") == ""
