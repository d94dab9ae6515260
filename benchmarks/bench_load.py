"""Load the real 134-slice CT three ways in one run and print the ratios.

VoxRad (scan + build), SimpleITK's ImageSeriesReader (GDCM) and a plain pydicom loop
(dcmread + pixel_array + rescale, sorted by position). Each is timed as the median of
``--repeat`` interleaved runs on warm files (the OS cache holds them after the first run).
Also reported: the time until the middle slice alone is available, which is what a viewer
shows first. Voxel values and geometry are checked to be identical to SimpleITK's.

Usage: python benchmarks/bench_load.py [--folder DIR] [--repeat N] [--json]
Target (issue 2): VoxRad at least 1.5x faster than SimpleITK on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ct-abdomen-134"


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


def interleaved(fns: dict[str, object], repeat: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per loader, running them in turn (A, B, C, A, B, C, ...).

    Interleaving exposes every loader to the same background load, so the ratios stay
    meaningful on a busy machine even when the absolute times do not.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()  # type: ignore[operator]
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import SimpleITK as sitk  # noqa: N813

    folder = args.folder
    load_voxrad(folder)  # warm the OS file cache and imports for everyone
    load_sitk(folder)
    medians, results = interleaved(
        {
            "voxrad": lambda: load_voxrad(folder),
            "simpleitk": lambda: load_sitk(folder),
            "pydicom": lambda: load_pydicom(folder),
        },
        args.repeat,
    )
    t_vox, t_sitk, t_pyd = medians["voxrad"], medians["simpleitk"], medians["pydicom"]
    volume, image, stack = results["voxrad"], results["simpleitk"], results["pydicom"]
    firsts = [middle_slice_voxrad(folder) for _ in range(args.repeat)]
    t_mid = statistics.median(t for t, _ in firsts)
    middle = firsts[0][1]

    ref = sitk.GetArrayViewFromImage(image)  # type: ignore[arg-type]
    identical = bool(
        np.array_equal(volume.voxels, ref)  # type: ignore[attr-defined]
        and np.array_equal(stack, ref)
        and np.allclose(volume.spacing_xyz, image.GetSpacing())  # type: ignore[attr-defined]
        and np.allclose(volume.origin, image.GetOrigin())  # type: ignore[attr-defined]
        and np.allclose(volume.direction_xyz.reshape(-1), image.GetDirection())  # type: ignore[attr-defined]
        and np.array_equal(middle, ref[ref.shape[0] // 2])
    )
    result = {
        # No path: a folder may be named after the patient (benchmark output holds no PHI).
        "slices": int(ref.shape[0]),
        "repeat": args.repeat,
        "seconds": {
            "voxrad": t_vox,
            "simpleitk": t_sitk,
            "pydicom_loop": t_pyd,
            "voxrad_middle_slice": t_mid,
        },
        "speedup_vs_simpleitk": t_sitk / t_vox,
        "speedup_vs_pydicom_loop": t_pyd / t_vox,
        "middle_slice_fraction_of_full_load": t_mid / t_vox,
        "identical_values_and_geometry": identical,
        "target_met": identical and t_sitk / t_vox >= 1.5,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['slices']}-slice CT, median of {args.repeat} interleaved warm runs")
        print(f"  VoxRad          {t_vox * 1000:8.1f} ms")
        print(f"  SimpleITK       {t_sitk * 1000:8.1f} ms   VoxRad is {t_sitk / t_vox:.2f}x faster")
        print(f"  pydicom loop    {t_pyd * 1000:8.1f} ms   VoxRad is {t_pyd / t_vox:.2f}x faster")
        print(f"  middle slice    {t_mid * 1000:8.1f} ms   ({t_mid / t_vox:.0%} of the full load)")
        print(f"  identical voxels and geometry: {identical}")
        print(f"  target (>= 1.5x SimpleITK): {'met' if result['target_met'] else 'NOT met'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
