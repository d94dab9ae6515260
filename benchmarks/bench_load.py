"""Load the real 134-slice CT with VoxRad and with SimpleITK in one run and print the ratios,
for the uncompressed original and for each transfer syntax PACS send.

VoxRad (scan + build), SimpleITK's ImageSeriesReader (GDCM) and, for the original only, a
plain pydicom loop (dcmread + pixel_array + rescale, sorted by position). Each is timed as the
median of ``--repeat`` interleaved runs on warm files (the OS cache holds them after the first
run). Also reported: the time until the middle slice alone is available (what a viewer shows
first) and the peak memory a load adds, measured in a fresh child process per loader (peak
RSS minus RSS before the load, Linux), as a multiple of the volume's size. Voxels are compared with
SimpleITK's: identical for every lossless syntax, geometry too.

On a machine shared with other sessions, parallel decoding gains little wall time: Linux's
scheduler autogroup gives each session an equal share of the cores however many threads it
runs. The cpu ratio (SimpleITK's CPU time over VoxRad's, all threads) is what such a machine
does not distort; on an idle machine the wall ratio of the threaded syntaxes is higher.

Compressed series are re-encoded from the original with tests/imaging/compressed_series.py
(pydicom, dcmtk, imagecodecs) into ``--cache`` once; ``--long N`` adds a series of N copies of
the slices stacked one above the other (re-using the compressed files, so no re-encode) to
check that the cost per slice stays flat.

Usage:
  python benchmarks/bench_load.py [--folder DIR] [--repeat N] [--json]
  python benchmarks/bench_load.py --syntax all [--repeat 3] [--long 8 [--long-syntax NAME]]
Targets (issues 2 and 20): >= 1.5x SimpleITK for every lossless syntax, identical voxels; cost
per slice at 1,000+ slices <= 1.3x that at 134; peak memory <= 2.5x the volume; middle slice
<= 0.3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "ct-abdomen-134"
sys.path.insert(0, str(REPO / "tests" / "imaging"))


def load_voxrad(folder: Path):  # type: ignore[no-untyped-def]
    from voxrad.imaging.registry import open_study

    return open_study(folder).find().load_volume()


def middle_slice_voxrad(folder: Path) -> tuple[float, np.ndarray]:
    """Seconds from the start of opening until the middle slice is handed over, and that slice.

    The full load goes on afterwards, as it does in the viewer.
    """
    from voxrad.imaging.registry import open_study

    got: list[tuple[float, np.ndarray]] = []
    start = time.perf_counter()
    open_study(folder).find().load_volume(
        on_first_slice=lambda _k, image: got.append((time.perf_counter() - start, image))
    )
    return got[0]


def load_sitk(folder: Path):  # type: ignore[no-untyped-def]
    import SimpleITK as sitk  # noqa: N813

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def load_pydicom(folder: Path) -> np.ndarray:
    import pydicom

    slices = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        normal = np.cross(
            np.array(ds.ImageOrientationPatient[:3], float),
            np.array(ds.ImageOrientationPatient[3:], float),
        )
        position = float(np.dot(np.array(ds.ImagePositionPatient, float), normal))
        hu = ds.pixel_array.astype(np.int16) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        slices.append((position, hu))
    slices.sort(key=lambda item: item[0])
    return np.stack([s for _, s in slices])


def interleaved(
    fns: dict[str, Callable[[], Any]], repeat: int
) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """Median wall and CPU seconds per loader, running them in turn (A, B, C, A, B, C, ...).

    Interleaving exposes every loader to the same background load, so the ratios stay
    meaningful on a busy machine even when the absolute times do not. CPU seconds (all
    threads of this process) show what each loader costs whatever the other processes on
    the machine leave it: on a shared machine parallel decoding gains less wall time than it
    would on an idle one. A loader that raises (SimpleITK cannot read some syntaxes) is
    timed as NaN and its error kept as its result.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            if isinstance(results.get(name), Exception):
                continue
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                results[name] = fn()
            except Exception as exc:  # a baseline that cannot read the syntax
                results[name] = exc
                times[name] = cpu[name] = [float("nan")]
                continue
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return (
        {name: statistics.median(t) for name, t in times.items()},
        {name: statistics.median(t) for name, t in cpu.items()},
        results,
    )


_PEAK_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import bench_load, SimpleITK, pydicom, imagecodecs, voxrad.imaging.registry

def kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

# Writing 5 to clear_refs resets the peak (VmHWM) to the current resident size.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kib("VmRSS")
loader = bench_load.load_voxrad if sys.argv[1] == "voxrad" else bench_load.load_sitk
result = loader(Path(sys.argv[2]))
print((kib("VmHWM") - before) * 1024)
"""


def peak_memory(loader: str, folder: Path) -> float:
    """Bytes a load adds at its peak, measured in a fresh process (Linux only, else NaN).

    The child imports everything first, resets the kernel's peak-RSS mark, loads once and
    reports the peak minus the resident size before the load.
    """
    if not Path("/proc/self/clear_refs").exists():
        return float("nan")
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, loader, str(folder), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "app"), *sys.path])},
        check=False,
    )
    if done.returncode != 0:
        return float("nan")
    return float(done.stdout.strip().splitlines()[-1])


def compare(volume: Any, image: Any) -> dict[str, Any]:
    """Voxel difference and geometry agreement between VoxRad's volume and SimpleITK's image."""
    import SimpleITK as sitk  # noqa: N813

    if isinstance(image, Exception):
        return {"identical": None, "max_abs_diff": None, "simpleitk_error": str(image)[:120]}
    ref = sitk.GetArrayViewFromImage(image)
    if ref.shape != volume.voxels.shape:
        return {"identical": False, "max_abs_diff": None, "shape": [ref.shape, volume.shape]}
    diff = float(np.abs(volume.voxels.astype(np.float64) - ref).max())
    geometry = bool(
        np.allclose(volume.spacing_xyz, image.GetSpacing())
        and np.allclose(volume.origin, image.GetOrigin())
        and np.allclose(volume.direction_xyz.reshape(-1), image.GetDirection())
    )
    return {"identical": diff == 0.0 and geometry, "max_abs_diff": diff, "geometry": geometry}


def bench_folder(folder: Path, repeat: int, *, with_pydicom: bool = False) -> dict[str, Any]:
    """Times, ratio, first-slice time and voxel check for one series folder."""
    load_voxrad(folder)  # warm the OS file cache and imports for everyone
    with contextlib.suppress(Exception):  # a syntax SimpleITK cannot read: reported below
        load_sitk(folder)
    fns: dict[str, Callable[[], Any]] = {
        "voxrad": lambda: load_voxrad(folder),
        "simpleitk": lambda: load_sitk(folder),
    }
    if with_pydicom:
        fns["pydicom_loop"] = lambda: load_pydicom(folder)
    medians, cpu, results = interleaved(fns, repeat)
    volume = results["voxrad"]
    firsts = [middle_slice_voxrad(folder) for _ in range(repeat)]
    out: dict[str, Any] = {
        "slices": int(volume.shape[0]),
        "seconds": medians,
        "cpu_seconds": cpu,
        "speedup_vs_simpleitk": medians["simpleitk"] / medians["voxrad"],
        "cpu_ratio_simpleitk_to_voxrad": cpu["simpleitk"] / cpu["voxrad"],
        "voxrad_ms_per_slice": medians["voxrad"] / volume.shape[0] * 1000,
        "voxrad_middle_slice_s": statistics.median(t for t, _ in firsts),
        "volume_bytes": int(volume.voxels.nbytes),
        **compare(volume, results["simpleitk"]),
    }
    if with_pydicom:
        stack = results["pydicom_loop"]
        out["speedup_vs_pydicom_loop"] = medians["pydicom_loop"] / medians["voxrad"]
        out["identical"] = bool(out["identical"]) and bool(np.array_equal(stack, volume.voxels))
    middle = firsts[0][1]
    out["middle_slice_matches"] = bool(np.array_equal(middle, volume.voxels[volume.shape[0] // 2]))
    return out


def stacked_copies(src: Path, dest: Path, copies: int) -> Path:
    """``copies`` copies of the series in ``src``, each shifted past the previous one.

    Only the header changes (position, UIDs, instance number): the pixel data, compressed or
    not, is written back as it was, so nothing is re-encoded.
    """
    import pydicom
    from pydicom.uid import generate_uid

    done = dest / ".complete"
    if done.exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.dcm"))
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    last = pydicom.dcmread(files[-1], stop_before_pixels=True)
    step = abs(float(last.ImagePositionPatient[2]) - float(first.ImagePositionPatient[2]))
    step += step / max(len(files) - 1, 1)
    series = generate_uid()
    for copy in range(copies):
        for n, path in enumerate(files):
            ds = pydicom.dcmread(path)
            z = float(ds.ImagePositionPatient[2])
            ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], z + copy * step]
            ds.SeriesInstanceUID = series
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = copy * len(files) + n + 1
            ds.save_as(dest / f"{copy:02d}-{path.name}", enforce_file_format=True)
    done.write_text("")
    return dest


def _row(name: str, r: dict[str, Any]) -> str:
    s = r["seconds"]
    same = {True: "identical", False: "DIFFERENT", None: "n/a"}[r["identical"]]
    if r["identical"] is False and r.get("max_abs_diff") is not None:
        same = f"max diff {r['max_abs_diff']:g}"
    sitk = "cannot read" if r.get("simpleitk_error") else f"{s['simpleitk'] * 1000:7.0f} ms"
    ratio = "" if r.get("simpleitk_error") else f"{r['speedup_vs_simpleitk']:5.2f}x"
    peak = r.get("peak_x_volume")
    peaks = "" if peak is None else f"  peak {peak['voxrad']:.2f}x/{peak['simpleitk']:.2f}x"
    cpu = "" if r.get("simpleitk_error") else f"cpu {r['cpu_ratio_simpleitk_to_voxrad']:4.2f}x"
    return (
        f"  {name:20s} {r['slices']:5d} sl  VoxRad {s['voxrad'] * 1000:7.0f} ms "
        f"({r['voxrad_ms_per_slice']:5.1f} ms/sl)  SimpleITK {sitk}  {ratio:6s} {cpu}  "
        f"first {r['voxrad_middle_slice_s'] * 1000:4.0f} ms  {same}{peaks}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=None, help="default 7, or 3 with --syntax")
    parser.add_argument(
        "--syntax",
        action="append",
        default=[],
        help="an encoding of tests/imaging/compressed_series.py, or 'all' (repeatable)",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "voxrad-bench")
    parser.add_argument("--long", type=int, default=0, help="also N stacked copies (N x slices)")
    parser.add_argument("--long-syntax", default="jpegls-lossless")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from compressed_series import ENCODINGS, available, encode_series

    if not args.syntax:
        return _original_only(args)
    names = list(ENCODINGS) if "all" in args.syntax else args.syntax
    repeat = args.repeat or 3
    results: dict[str, dict[str, Any]] = {}
    # No folder name: it may be named after the patient (benchmark output holds no PHI).
    print(f"VoxRad vs SimpleITK, median of {repeat} interleaved warm runs")
    print("  (ratio: SimpleITK wall time / VoxRad's; cpu: the same for CPU time, all threads)")
    from voxrad.imaging.dicom.build import decode_workers

    print(f"  (decoding threads: {decode_workers()}; fixtures cached in {args.cache})")
    todo = [(name, name, 1) for name in names]
    if args.long:
        todo.append((f"{args.long_syntax} x{args.long}", args.long_syntax, args.long))
    for label, name, copies in todo:
        encoding = ENCODINGS[name]
        why = available(encoding)
        if why:
            print(f"  {label:20s} skipped: {why}")
            continue
        folder = encode_series(args.folder, args.cache, encoding)
        if copies > 1:
            folder = stacked_copies(folder, args.cache / f"{name}-x{copies}", copies)
        r = bench_folder(folder, 1 if copies > 1 else repeat)
        r["lossless"] = encoding.lossless
        r["copies"] = copies
        if not args.no_memory:
            peaks = {k: peak_memory(k, folder) for k in ("voxrad", "simpleitk")}
            r["peak_bytes"] = peaks
            r["peak_x_volume"] = {k: v / r["volume_bytes"] for k, v in peaks.items()}
        results[label] = r
        print(_row(label, r), flush=True)
    lossless = {k: r for k, r in results.items() if r["lossless"] and r["copies"] == 1}
    met = all(
        r["identical"] and r["speedup_vs_simpleitk"] >= 1.5
        for r in lossless.values()
        if not r.get("simpleitk_error")
    )
    summary: dict[str, Any] = {"repeat": repeat, "results": results, "lossless_target_met": met}
    if args.long and f"{args.long_syntax} x{args.long}" in results and args.long_syntax in results:
        flat = (
            results[f"{args.long_syntax} x{args.long}"]["voxrad_ms_per_slice"]
            / results[args.long_syntax]["voxrad_ms_per_slice"]
        )
        summary["per_slice_cost_ratio_long_vs_134"] = flat
        print(f"  cost per slice, {args.long}x series vs original: {flat:.2f}x (target <= 1.3x)")
    print(f"  lossless target (>= 1.5x SimpleITK, identical): {'met' if met else 'NOT met'}")
    if args.json:
        print(json.dumps(summary, indent=2, default=float))
    return 0 if all(r["identical"] is not False for k, r in lossless.items()) else 1


def _original_only(args: argparse.Namespace) -> int:
    """The original series (issue 2's benchmark): VoxRad, SimpleITK and a pydicom loop."""
    repeat = args.repeat or 7
    r = bench_folder(args.folder, repeat, with_pydicom=True)
    s = r["seconds"]
    identical = bool(r["identical"]) and r["middle_slice_matches"]
    result = {
        # No path: a folder may be named after the patient (benchmark output holds no PHI).
        "slices": r["slices"],
        "repeat": repeat,
        "seconds": {**s, "voxrad_middle_slice": r["voxrad_middle_slice_s"]},
        "speedup_vs_simpleitk": r["speedup_vs_simpleitk"],
        "speedup_vs_pydicom_loop": r["speedup_vs_pydicom_loop"],
        "middle_slice_fraction_of_full_load": r["voxrad_middle_slice_s"] / s["voxrad"],
        "identical_values_and_geometry": identical,
        "target_met": identical and r["speedup_vs_simpleitk"] >= 1.5,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if identical else 1
    t_vox, t_sitk, t_pyd = s["voxrad"], s["simpleitk"], s["pydicom_loop"]
    t_mid = r["voxrad_middle_slice_s"]
    print(f"{r['slices']}-slice CT, median of {repeat} interleaved warm runs")
    print(f"  VoxRad          {t_vox * 1000:8.1f} ms")
    print(f"  SimpleITK       {t_sitk * 1000:8.1f} ms   VoxRad is {t_sitk / t_vox:.2f}x faster")
    print(f"  pydicom loop    {t_pyd * 1000:8.1f} ms   VoxRad is {t_pyd / t_vox:.2f}x faster")
    print(f"  middle slice    {t_mid * 1000:8.1f} ms   ({t_mid / t_vox:.0%} of the full load)")
    print(f"  identical voxels and geometry: {identical}")
    print(f"  target (>= 1.5x SimpleITK): {'met' if result['target_met'] else 'NOT met'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
