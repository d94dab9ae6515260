"""HTTPS (DICOMweb, through a TLS-terminating proxy) and DICOM TLS (DIMSE) against a real
Orthanc, with a self-signed certificate that the client must be told to trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from orthanc_support import Connect, Orthanc, TlsProxy, dimse_node, web_node

from voxrad.core.errors import PacsError
from voxrad.pacs.base import StudyQuery


def test_https_with_the_sites_ca_and_without_it(
    connect: Connect, tls_orthanc: Orthanc, tmp_path: Path
) -> None:
    key = tls_orthanc.ca_file.with_name("server.key")
    proxy = TlsProxy(tls_orthanc.http_port, tls_orthanc.ca_file, key)
    try:
        url = f"https://127.0.0.1:{proxy.port}/dicom-web"
        client = connect(web_node(tls_orthanc, url=url, ca_file=str(tls_orthanc.ca_file)))
        (study,) = client.find_studies(StudyQuery(modality="CR"))
        assert client.retrieve(study.study_uid, None, tmp_path / "cr").complete
        with pytest.raises(PacsError) as err:
            connect(web_node(tls_orthanc, url=url)).echo()  # unknown to the system's CAs
        assert "certificate" in str(err.value) and "ca_file" in err.value.hint
    finally:
        proxy.close()


def test_dicom_tls_with_the_sites_ca(
    connect: Connect, tls_orthanc: Orthanc, tmp_path: Path
) -> None:
    client = connect(dimse_node(tls_orthanc, tls=True, ca_file=str(tls_orthanc.ca_file)))
    assert client.echo() > 0
    (study,) = client.find_studies(StudyQuery(modality="CR"))
    result = client.retrieve(study.study_uid, None, tmp_path / "cr")
    assert result.complete and result.received == 1
