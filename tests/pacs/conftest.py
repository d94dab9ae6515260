"""Fixtures for the PACS tests: real Orthanc servers loaded with the real test DICOM."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from orthanc_support import PASSWORD, Orthanc, orthanc_missing

from voxrad.core.settings import PacsNode
from voxrad.pacs.base import PacsClient
from voxrad.pacs.registry import open_client

#: The CT slices uploaded to the shared server (a few, for speed) and the one full series.
CT_SLICES = 6


@pytest.fixture(scope="session")
def study_files(shared_data: Path) -> dict[str, list[Path]]:
    """The real files the shared server holds, by name."""
    ct = sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[:CT_SLICES]
    head = sorted((shared_data / "ct-head-tilt-28").glob("*.dcm"))
    cxr = [shared_data / "cxr" / "siim-cr-no-pneumothorax.dcm"]
    return {"ct": ct, "head": head, "cxr": cxr}


def _server(root: Path) -> Orthanc:
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    server = Orthanc(root)
    server.start()
    return server


@pytest.fixture(scope="session")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, study_files: dict[str, list[Path]]
) -> Iterator[Orthanc]:
    """One server for the whole session, holding the CT slices, the head CT and the CR."""
    server = _server(tmp_path_factory.mktemp("orthanc"))
    try:
        for files in study_files.values():
            server.upload(files)
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """A server of the test's own, empty, for tests that stop or change it."""
    server = _server(tmp_path / "orthanc")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def pacs_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRAD_PACS_SECRET", PASSWORD)


@pytest.fixture
def connect() -> Iterator[Callable[[PacsNode], PacsClient]]:
    """``connect(node)``: a client for ``node``, closed when the test ends (an unclosed
    DICOMweb client leaves pooled sockets behind, which the warnings filter turns into errors)."""
    clients: list[PacsClient] = []

    def make(node: PacsNode) -> PacsClient:
        client = open_client(node)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def tls_orthanc(tmp_path: Path, study_files: dict[str, list[Path]]) -> Iterator[Orthanc]:
    """A server of the test's own with DICOM TLS, holding the CR."""
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    server = Orthanc(tmp_path / "orthanc-tls", tls=True)
    server.start()
    try:
        server.upload(study_files["cxr"])
        yield server
    finally:
        server.stop()
