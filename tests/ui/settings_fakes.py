"""Fakes for the settings dialog and first-run tests: a level source fed by the test, and a
model hub that fails the way an offline workstation does."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxrad.audio.endpointer import Level, measure_level
from voxrad.backends.model_store import ModelStoreError, RemoteFile, RepoListing


class FakeLevelSource:
    """Levels of blocks the test feeds, delivered from another thread like the capture's."""

    def __init__(self, device: str = "") -> None:
        self.device = device
        self.on_level: Callable[[Level], None] | None = None
        self.stopped = False

    def start(self, on_level: Callable[[Level], None]) -> None:
        self.on_level = on_level

    def stop(self) -> None:
        self.stopped = True

    def feed(self, block: np.ndarray) -> None:
        on_level = self.on_level
        assert on_level is not None, "the meter never started its source"
        worker = threading.Thread(target=lambda: on_level(measure_level(block)))
        worker.start()
        worker.join()


class FakeLevelSources:
    """A factory remembering every source it made (the dialog makes one per device)."""

    def __init__(self) -> None:
        self.made: list[FakeLevelSource] = []

    def __call__(self, device: str) -> FakeLevelSource:
        self.made.append(FakeLevelSource(device))
        return self.made[-1]


class FakeOfflineHub:
    """A hub that cannot be reached, with the error the real one raises for that."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        self.asked.append(repo)
        raise ModelStoreError(
            "The model hub could not be reached (ConnectionError).",
            hint="Check the internet connection or proxy.",
        )

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path:
        raise AssertionError("download must not be tried when listing failed")


class FakeCrashingHub(FakeOfflineHub):
    """A hub failing with an unexpected exception (not a VoxRadError)."""

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        self.asked.append(repo)
        raise TypeError("unexpected")


class FakeFileHub:
    """A hub serving one small weights file, with its real sha256 (as the hub's LFS gives)."""

    CONTENT = b"GGUF fake weights for the download test"

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        import hashlib

        digest = hashlib.sha256(self.CONTENT).hexdigest()
        return RepoListing(revision, [RemoteFile("model-Q4_K_M.gguf", len(self.CONTENT), digest)])

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path:
        path = folder / filename
        path.write_bytes(self.CONTENT)
        return path


class FakeDeadMicrophone(FakeLevelSource):
    """A level source whose device cannot be opened."""

    def start(self, on_level: Callable[[Level], None]) -> None:
        from voxrad.core.errors import MicrophoneError

        raise MicrophoneError("No microphone was found on this workstation.")
