"""The probe runner: order, concurrency, time limits, failures, and the overall verdict."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from voxrad.doctor import Check, Probe, Status, overall_status, run_probes
from voxrad.doctor.check import count_by_status


def fake_ok() -> Check:
    return Check("ignored-name", Status.OK, "fine", {"answer": 42})


def fake_warning() -> Check:
    return Check("w", Status.WARNING, "slower", hint="do something")


def fake_raises() -> Check:
    raise RuntimeError("driver said no")


def fake_returns_none() -> Check:
    return None  # type: ignore[return-value]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so a deliberately hung fake probe thread ends."""
    event = threading.Event()
    yield event
    event.set()


def test_checks_come_back_in_probe_order_named_after_their_probe() -> None:
    checks = run_probes(
        [Probe("first", fake_warning, 5), Probe("second", fake_ok, 5)],
    )
    assert [c.name for c in checks] == ["first", "second"]
    assert [c.status for c in checks] == [Status.WARNING, Status.OK]
    assert checks[1].detail == {"answer": 42}
    assert all(c.seconds >= 0 for c in checks)


def test_exception_in_one_probe_becomes_a_problem_for_that_probe_only() -> None:
    checks = run_probes(
        [
            Probe("ok", fake_ok, 5),
            Probe("broken", fake_raises, 5),
            Probe("none", fake_returns_none, 5),
        ]
    )
    by_name = {c.name: c for c in checks}
    assert by_name["ok"].status is Status.OK
    broken = by_name["broken"]
    assert broken.status is Status.PROBLEM
    assert "RuntimeError: driver said no" in broken.summary
    assert broken.detail["error"] == "RuntimeError"
    assert "fake_raises" in broken.detail["traceback"]
    assert broken.hint
    assert by_name["none"].status is Status.PROBLEM
    assert "NoneType" in by_name["none"].summary


def test_hung_probe_times_out_while_the_others_still_report(release: threading.Event) -> None:
    def fake_hangs() -> Check:
        release.wait()
        return Check("hang", Status.OK, "too late")

    started = time.monotonic()
    checks = run_probes([Probe("hangs", fake_hangs, 0.3), Probe("ok", fake_ok, 5)])
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    hung, ok = checks
    assert hung.status is Status.PROBLEM
    assert "did not finish within 0.3 s" in hung.summary
    assert hung.detail == {"timeout_seconds": 0.3}
    assert ok.status is Status.OK


def test_probes_run_at_the_same_time() -> None:
    # Each fake probe waits for the other at a barrier: run one after the other, the first
    # would break the barrier after its timeout and come back as a problem.
    barrier = threading.Barrier(3, timeout=5)

    def fake_meets() -> Check:
        barrier.wait()
        return Check("m", Status.OK, "met")

    checks = run_probes([Probe(f"p{n}", fake_meets, 10) for n in range(3)])
    assert [c.status for c in checks] == [Status.OK] * 3


def test_duplicate_probe_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        run_probes([Probe("x", fake_ok), Probe("x", fake_ok)])


def test_overall_status_is_the_worst_item() -> None:
    ok = Check("a", Status.OK, "")
    warning = Check("b", Status.WARNING, "")
    problem = Check("c", Status.PROBLEM, "")
    assert overall_status([]) is Status.OK
    assert overall_status([ok, ok]) is Status.OK
    assert overall_status([ok, warning, ok]) is Status.WARNING
    assert overall_status([problem, warning, ok]) is Status.PROBLEM
    assert count_by_status([ok, warning, warning]) == {
        Status.OK: 1,
        Status.WARNING: 2,
        Status.PROBLEM: 0,
    }


def test_check_to_dict_is_plain_json() -> None:
    check = Check("gpu", Status.WARNING, "none", {"n": [1, 2]}, "buy one", seconds=0.12345)
    assert json.loads(json.dumps(check.to_dict())) == {
        "name": "gpu",
        "status": "warning",
        "summary": "none",
        "hint": "buy one",
        "seconds": 0.123,
        "detail": {"n": [1, 2]},
    }
