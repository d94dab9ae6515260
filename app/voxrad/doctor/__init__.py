"""Workstation checks for ``voxrad doctor``: what this machine has, and what to fix.

Each probe returns a :class:`Check`; :func:`run_probes` runs them concurrently with time
limits so that one hanging driver cannot stop the report.
"""

from voxrad.doctor.check import Check, Status, overall_status
from voxrad.doctor.runner import Probe, run_probes

__all__ = ["Check", "Probe", "Status", "overall_status", "run_probes"]
