"""Run probes concurrently, each with its own time limit, and never let one break the report.

A probe is a plain function returning a :class:`~voxrad.doctor.check.Check`. Each runs on its
own daemon thread: a probe stuck inside a driver call cannot be interrupted from Python, so the
runner stops waiting for it at its deadline, reports a ``problem`` for it, and lets the process
exit without joining the thread (a ``ThreadPoolExecutor`` would join it at exit and hang).
Probes that talk to drivers known to hang (OpenGL, speech, audio) do that work in a child
process, which *can* be killed; see :mod:`voxrad.doctor.child`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from voxrad.doctor.check import Check, Status

logger = logging.getLogger(__name__)

ProbeFunction = Callable[[], Check]


@dataclass(frozen=True)
class Probe:
    """A named check function with the longest time it may take."""

    name: str
    run: ProbeFunction
    timeout: float = 10.0


class _Slot:
    """Where a probe thread leaves its result; ``done`` is set when it is there."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.check: Check | None = None


def _call(probe: Probe, slot: _Slot) -> None:
    started = time.perf_counter()
    try:
        check = probe.run()
        if not isinstance(check, Check):
            raise TypeError(f"probe returned {type(check).__name__}, not Check")
        check = replace(check, name=probe.name)
    except Exception as exc:
        # A probe that fails is itself a finding: IT sees which probe and why.
        logger.warning("doctor probe %s failed: %s", probe.name, exc, exc_info=True)
        check = Check(
            name=probe.name,
            status=Status.PROBLEM,
            summary=f"the check itself failed: {type(exc).__name__}: {str(exc)[:200]}",
            detail={
                "error": type(exc).__name__,
                "message": str(exc),
                "traceback": traceback.format_exc(limit=8),
            },
            hint="Send this report and the VoxRad log to IT support.",
        )
    slot.check = replace(check, seconds=time.perf_counter() - started)
    slot.done.set()


def _timed_out(probe: Probe) -> Check:
    logger.warning("doctor probe %s did not finish within %.1f s", probe.name, probe.timeout)
    return Check(
        name=probe.name,
        status=Status.PROBLEM,
        summary=f"did not finish within {probe.timeout:g} s",
        detail={"timeout_seconds": probe.timeout},
        hint=(
            "A driver or service did not answer. Restart the workstation; if it persists, "
            "update the driver for this item."
        ),
        seconds=probe.timeout,
    )


def run_probes(probes: Sequence[Probe]) -> list[Check]:
    """Run ``probes`` at the same time and return their checks in the order given.

    Each probe gets ``probe.timeout`` seconds from the moment all probes start. A probe that
    raises or runs past its time becomes a ``problem`` check for that probe; the other
    results are unaffected.
    """
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate probe names in {names}")
    start = time.monotonic()
    slots: list[_Slot] = []
    for probe in probes:
        slot = _Slot()
        slots.append(slot)
        threading.Thread(
            target=_call, args=(probe, slot), name=f"doctor-{probe.name}", daemon=True
        ).start()
    checks: list[Check] = []
    for probe, slot in zip(probes, slots, strict=True):
        remaining = start + probe.timeout - time.monotonic()
        if slot.done.wait(max(0.0, remaining)) and slot.check is not None:
            checks.append(slot.check)
        else:
            checks.append(_timed_out(probe))
    for check in checks:
        logger.info("doctor %s: %s (%.2f s)", check.name, check.status.value, check.seconds)
    return checks
