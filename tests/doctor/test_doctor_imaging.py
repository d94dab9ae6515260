"""The ``dicom`` check: the decoder of every transfer syntax in the loader's table."""

from __future__ import annotations

import pytest

from voxrad.doctor.check import Status
from voxrad.doctor.imaging import check_dicom_decoders
from voxrad.imaging.dicom import decoders

J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"


def test_every_table_row_has_a_decoder_and_the_check_lists_them() -> None:
    routes = {r.syntax: r for r in decoders.routes()}
    assert set(routes) == set(decoders.CODECS)
    assert all(r.decoder for r in routes.values()), routes
    assert routes[J2K_LOSSLESS].decoder == "imagecodecs jpeg2k" and routes[J2K_LOSSLESS].parallel
    assert routes["1.2.840.10008.1.2.1.99"].decoder == "pydicom"  # deflated
    assert routes["1.2.840.10008.1.2"].decoder == "read from the file"
    check = check_dicom_decoders()
    assert check.status == Status.OK, check
    assert check.detail["imagecodecs"]
    rows = {row["syntax"]: row for row in check.detail["syntaxes"]}
    assert set(rows) == set(decoders.CODECS)
    assert rows[J2K_LOSSLESS]["decoder"] == "imagecodecs jpeg2k"


def test_without_imagecodecs_the_check_warns_and_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoders, "_imagecodecs", lambda: None)
    route = {r.syntax: r for r in decoders.routes()}[J2K_LOSSLESS]
    assert route.decoder.startswith("pydicom (") and "pylibjpeg" in route.decoder
    assert not route.parallel
    check = check_dicom_decoders()
    assert check.status == Status.WARNING
    assert "one core" in check.summary and "imagecodecs" in check.hint
    assert check.detail["imagecodecs"] is None


def test_a_syntax_nothing_can_decode_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "_imagecodecs", lambda: None)
    monkeypatch.setattr(decoders, "_pydicom_plugins", lambda syntax: "")
    check = check_dicom_decoders()
    assert check.status == Status.WARNING
    assert "no decoder for: " in check.summary and "JPEG 2000 lossless" in check.summary
