"""Viewer benchmarks, each against a baseline measured in the same run.

1. Slice scrolling: VoxRad's axial view (real QVTK window, overlays on) stepping through the
   134-slice CT, against a bare vtkImageReslice + vtkImageActor render loop of the same size.
   Target: at least 0.8x the bare loop.
2. Volume rendering: the mapper VoxRad chooses against vtkSmartVolumeMapper's default choice,
   same volume, window and preset. Target on software OpenGL: at least 10x.
3. Start-up: VoxRad's main window visible and rendered against a bare QApplication + QVTK
   window (fresh processes, imports included). Target: within 2x.

Run: ``.venv/bin/python benchmarks/bench_viewer.py [--study PATH]`` (starts Xvfb itself when
no DISPLAY is set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STUDY = REPO.parent / "shared" / "data" / "ct-abdomen-134"


def _die_with_parent() -> None:
    """In the Xvfb child: exit when this process does (Linux), after Qt and VTK have closed
    their X connections; stopping it earlier makes Xlib abort with "XIO: fatal IO error"."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def ensure_display() -> subprocess.Popen[bytes] | None:
    """Start Xvfb on a free display when none is set."""
    if os.environ.get("DISPLAY"):
        return None
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-displayfd", str(write_fd)],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads exist yet)
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip().decode()
    os.environ["DISPLAY"] = f":{number}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


# -- 1. slice scrolling ---------------------------------------------------------------------------
def bench_scrolling(volume: object, passes: int) -> tuple[float, float, str]:
    from PySide6.QtWidgets import QApplication
    from vtkmodules.vtkImagingCore import vtkImageReslice
    from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer, vtkRenderWindow

    from voxrad.core.overlay import OverlayBox, OverlayCallout, OverlayPoint
    from voxrad.render.image_data import volume_to_image_data
    from voxrad.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(show_dialogs=False)
    window.resize(1200, 900)
    window.show()
    app.processEvents()
    area = window.view_area
    area.set_volume(volume)  # type: ignore[arg-type]
    n_slices = volume.shape[0]  # type: ignore[attr-defined]
    for k in range(0, n_slices, 3):
        area.layer.add(OverlayBox(f"b{k}", k, 180, 200, 260, 280, f"finding {k}"))
        area.layer.add(OverlayPoint(f"p{k}", k, 300, 300, "point"))
        area.layer.add(OverlayCallout(f"c{k}", k, 120, 350, "note"))
    view = area.views["axial"]
    app.processEvents()
    width, height = view.GetRenderWindow().GetSize()

    def voxrad_pass() -> float:
        view.go_to(0)
        start = time.perf_counter()
        for _ in range(n_slices - 1):
            view.step(1)  # renders synchronously, overlays rebuilt per slice
        return (n_slices - 1) / (time.perf_counter() - start)

    image = volume_to_image_data(volume)  # type: ignore[arg-type]
    reslice = vtkImageReslice()
    reslice.SetInputData(image)
    reslice.SetOutputDimensionality(2)
    reslice.SetInterpolationModeToLinear()
    actor = vtkImageActor()
    actor.GetMapper().SetInputConnection(reslice.GetOutputPort())
    actor.GetProperty().SetColorWindow(400)
    actor.GetProperty().SetColorLevel(40)
    renderer = vtkRenderer()
    renderer.AddActor(actor)
    bare = vtkRenderWindow()
    bare.SetSize(width, height)
    # Same framebuffer as VoxRad's view (no multisampling on software GL): the ratio is then
    # VoxRad's own per-slice work, not the saving from dropping multisampling.
    bare.SetMultiSamples(view.GetRenderWindow().GetMultiSamples())
    bare.AddRenderer(renderer)
    sz = image.GetSpacing()[2]
    reslice.SetResliceAxesOrigin(0, 0, 0)
    bare.Render()
    renderer.ResetCamera()
    # Framed as VoxRad frames the slice (parallel projection, same mm per pixel), so both
    # loops fill the same number of pixels with the image: a software rasteriser's time
    # grows with it, and VoxRad fits the slice to the view where ResetCamera leaves margins.
    camera = renderer.GetActiveCamera()
    camera.ParallelProjectionOn()
    camera.SetParallelScale(view.scene.renderer.GetActiveCamera().GetParallelScale())
    renderer.ResetCameraClippingRange()

    def bare_pass() -> float:
        start = time.perf_counter()
        for k in range(1, n_slices):
            reslice.SetResliceAxesOrigin(0.0, 0.0, k * sz)
            bare.Render()
        return (n_slices - 1) / (time.perf_counter() - start)

    voxrad_fps, bare_fps = [], []
    for _ in range(passes):  # interleaved, so machine load hits both alike
        voxrad_fps.append(voxrad_pass())
        bare_fps.append(bare_pass())
    bare.Finalize()
    window.close()
    samples = view.GetRenderWindow().GetMultiSamples()
    label = f"{width}x{height}, {samples} samples/pixel" if samples else f"{width}x{height}"
    return statistics.median(voxrad_fps), statistics.median(bare_fps), label


# -- 2. volume rendering --------------------------------------------------------------------------
def bench_volume(volume: object, frames: int) -> tuple[float, float, str, str]:
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    from voxrad.render.gl_info import gl_info
    from voxrad.render.image_data import volume_to_image_data
    from voxrad.render.volume_scene import VolumeScene

    image = volume_to_image_data(volume)  # type: ignore[arg-type]

    def fps(software_choice: bool, n: int) -> tuple[float, str]:
        window = vtkRenderWindow()
        window.SetSize(600, 600)
        scene = VolumeScene(software_gl=software_choice)
        window.AddRenderer(scene.renderer)
        scene.set_volume(volume, image=image)  # type: ignore[arg-type]
        window.Render()  # first frame builds textures / gradients: not timed
        start = time.perf_counter()
        for _ in range(n):
            scene.rotate(10.0, 0.0)
            window.Render()
        rate = n / (time.perf_counter() - start)
        name = scene.mapper_name
        window.Finalize()
        return rate, name

    probe = vtkRenderWindow()
    probe.SetSize(64, 64)
    info = gl_info(probe)
    probe.Finalize()
    chosen, chosen_name = fps(info.software, frames)
    smart, _ = fps(False, max(2, frames // 5))  # vtkSmartVolumeMapper, default settings
    return chosen, smart, chosen_name, info.renderer


# -- 3. start-up ----------------------------------------------------------------------------------
_BARE = """
import time, sys
from PySide6.QtWidgets import QApplication
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
import vtkmodules.vtkRenderingOpenGL2
from vtkmodules.vtkRenderingCore import vtkRenderer
app = QApplication([])
w = QVTKRenderWindowInteractor()
w.GetRenderWindow().AddRenderer(vtkRenderer())
w.resize(1200, 900)
w.Initialize()
w.show()
app.processEvents()
w.GetRenderWindow().Render()
print("ready", flush=True)
"""

_VOXRAD = """
import time, sys
from PySide6.QtWidgets import QApplication
from voxrad.ui.main_window import MainWindow
from voxrad.ui.theme import apply_dark_theme
app = QApplication([])
apply_dark_theme(app)
w = MainWindow(show_dialogs=False)
w.resize(1200, 900)
w.show()
app.processEvents()
w.view_area.views["axial"].GetRenderWindow().Render()
print("ready", flush=True)
w.close()
"""


def bench_startup(repeats: int) -> tuple[float, float]:
    def run(code: str) -> float:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        proc.wait(timeout=60)
        if b"ready" not in line:
            raise RuntimeError("start-up probe failed")
        return elapsed

    bare, voxrad = [], []
    for _ in range(repeats):
        bare.append(run(_BARE))
        voxrad.append(run(_VOXRAD))
    return statistics.median(voxrad), statistics.median(bare)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(DEFAULT_STUDY))
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ensure_display()
    from voxrad.imaging.registry import open_study

    study = open_study(args.study)
    volume = study.find().load_volume()
    print(f"study: {volume.shape} {volume.modality}, display {os.environ['DISPLAY']}")

    voxrad_fps, bare_fps, size = bench_scrolling(volume, args.passes)
    print(
        f"slice scrolling ({size}): VoxRad {voxrad_fps:.1f} fps with overlays, bare "
        f"vtkImageReslice loop {bare_fps:.1f} fps -> ratio {voxrad_fps / bare_fps:.2f} "
        "(target >= 0.8)"
    )
    chosen, smart, name, renderer = bench_volume(volume, args.frames)
    print(
        f"volume rendering (600x600, {renderer}): {name} {chosen:.2f} fps, "
        f"vtkSmartVolumeMapper default {smart:.2f} fps -> ratio {chosen / smart:.1f}x "
        "(target >= 10x on software GL)"
    )
    ready, bare_ready = bench_startup(args.repeats)
    print(
        f"window ready: VoxRad {ready:.2f} s, bare QApplication + QVTK {bare_ready:.2f} s "
        f"-> ratio {ready / bare_ready:.2f} (target <= 2)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
