"""Build the Linux installers and compare the frozen app with the venv, in one run.

Reports: build time (PyInstaller, tarball, .deb), package sizes, installed size (the .deb
unpacked), and start-up times of the installed frozen app against ``.venv/bin/voxrad`` for
three things a user does first: ``--version``, ``info`` on the real 134-slice CT, and opening
the sample study in the window (under Xvfb, until the study has loaded).

"Cold" runs drop the OS page cache first (``--cold``; needs root, and slows every other
process on the machine for a moment); "warm" is the median of ``--repeat`` interleaved runs.

The "venv" side shares its files with every other user of the checkout's .venv, so its cold
runs may find files cached again by others: treat cold venv numbers as a lower bound.

Usage: python benchmarks/bench_frozen.py [--repeat N] [--cold] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "installers" / "linux"))

import smoke  # noqa: E402

REAL_CT = REPO.parent / "shared" / "data" / "ct-abdomen-134"


def drop_caches() -> None:
    """Empty the page cache so the next start reads every file from disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def disk_bytes(folder: Path) -> int:
    """Bytes on disk (``du -sb``: apparent sizes, hard links once)."""
    out = subprocess.run(["du", "-sb", str(folder)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def timed(cmd: list[str], env: dict[str, str]) -> float:
    done, seconds = smoke.run(cmd, env=env)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} failed ({done.returncode}): {done.stderr[-500:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time cold starts (root)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the build folder (~2 GB)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voxrad-bench-frozen-"))
    start = time.perf_counter()
    subprocess.run(
        [str(REPO / "installers/linux/build.sh"), "--work", str(work), "--out", str(work / "out")],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    build_total = time.perf_counter() - start
    info = json.loads((work / "out" / "build-info.json").read_text())
    root = work / "root"
    subprocess.run(["dpkg-deb", "-x", str(work / "out" / info["deb"]), str(root)], check=True)
    installed = disk_bytes(root)

    home = work / "home"
    env = {**os.environ, "VOXRAD_HOME": str(home), "VOXRAD_APP_DIR": str(root / "opt/voxrad")}
    apps = {
        "frozen": [str(root / "usr/bin/voxrad")],
        "venv": [str(REPO / ".venv/bin/voxrad")],
    }
    tasks: dict[str, Callable[[list[str], str], float]] = {
        "version": lambda app, _d: timed([*app, "--version"], env),
        "info_ct": lambda app, _d: timed([*app, "info", "--json", str(REAL_CT)], env),
        "window_study_loaded": lambda app, d: float(
            smoke.open_demo(app, display=d, env=env)["loaded_s"]  # type: ignore[arg-type]
        ),
    }
    results: dict[str, dict[str, dict[str, float]]] = {t: {} for t in tasks}
    with smoke.xvfb() as display:
        # One untimed start of each so both have written their settings and caches alike.
        for app in apps.values():
            timed([*app, "--version"], env)
        for task, fn in tasks.items():
            if args.cold:
                for name, app in apps.items():
                    drop_caches()
                    results[task].setdefault(name, {})["cold_s"] = round(fn(app, display), 3)
            samples: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(args.repeat):
                for name, app in apps.items():
                    samples[name].append(fn(app, display))
            for name in apps:
                warm = round(statistics.median(samples[name]), 3)
                results[task].setdefault(name, {})["warm_s"] = warm

    report: dict[str, Any] = {
        "build": {**info, "build_total_s": round(build_total, 1)},
        "installed_bytes": installed,
        "venv_site_packages_bytes": disk_bytes(
            next((REPO / ".venv" / "lib").glob("python3*")) / "site-packages"
        ),
        "startup": results,
    }
    if args.keep:
        report["work"] = str(work)
    else:
        shutil.rmtree(work)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    b = report["build"]
    print(
        f"build: total {b['build_total_s']} s (PyInstaller {b['pyinstaller_s']} s, "
        f"tarball {b['tarball_s']} s, .deb {b['deb_s']} s)"
    )
    print(
        f"sizes: tarball {b['tarball_bytes'] / 2**20:.0f} MiB, .deb {b['deb_bytes'] / 2**20:.0f}"
        f" MiB, installed {installed / 2**20:.0f} MiB (venv site-packages "
        f"{report['venv_site_packages_bytes'] / 2**20:.0f} MiB)"
    )
    for task, by_app in results.items():
        parts = []
        for kind in ("cold_s", "warm_s"):
            if kind in by_app["frozen"]:
                f, v = by_app["frozen"][kind], by_app["venv"][kind]
                parts.append(f"{kind[:-2]} frozen {f:.2f} s vs venv {v:.2f} s (x{v / f:.2f})")
        print(f"{task}: " + "; ".join(parts))
    if args.keep:
        print(f"(build folder kept at {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
