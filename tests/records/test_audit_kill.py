"""A writer killed with SIGKILL mid-stream loses no committed record, and the chain verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from voxrad.records.audit import AuditEntry, AuditLog
from voxrad.records.audit_verify import verify_log

WRITER = """
import sys
from pathlib import Path
from voxrad.records.audit import AuditEntry, AuditLog

log = AuditLog(Path(sys.argv[1]))
n = 0
while True:
    record = log.append(AuditEntry(question=f"q{n}", answer="x" * 4000, model="m", backend="b"))
    # Printed only after append() returned, i.e. after COMMIT: this record must survive.
    print(record.seq, flush=True)
    n += 1
"""


def _run_and_kill(directory: Path, committed_before_kill: int) -> int:
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        last = 0
        try:
            for _ in range(committed_before_kill):
                line = child.stdout.readline()  # blocks until the child reports a commit
                assert line, child.stderr.read()
                last = int(line)
            # The writer is still looping: the kill lands inside some later append.
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()  # no-op once it is dead; never leave a writer behind on failure
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.slow
def test_sigkill_during_writes_loses_no_committed_record(tmp_path: Path) -> None:
    reported = 0
    for round_ in range(4):
        reported = _run_and_kill(tmp_path, 15 + 7 * round_)
        report = verify_log(tmp_path)
        assert report.ok, [p.message for p in report.problems]
        # Every record the writer saw committed is there (one more may have committed after).
        assert report.last_seq >= reported
    with AuditLog(tmp_path) as log:
        seqs = [r.seq for r in log.records()]
        after = log.append(AuditEntry(question="after", answer="after", model="m", backend="b"))
    assert seqs == list(range(1, len(seqs) + 1))
    assert after.seq == seqs[-1] + 1
    assert verify_log(tmp_path).ok
