"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on free loopback ports.

Each server has its own storage folder, HTTP basic authentication, AE title checking and
VoxRad registered as a modality (so C-FIND and C-GET are allowed for VoxRad's AE title).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxrad.core.settings import PacsNode
from voxrad.pacs.base import PacsClient

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PACS_AE = "ORTHANCTEST"
VOXRAD_AE = "VOXRAD"
USER = "radiology"
PASSWORD = "correct horse battery"


def orthanc_missing() -> str | None:
    """Why Orthanc cannot run here (a skip reason), or None."""
    if not Path(ORTHANC).is_file():
        return "the orthanc binary is not installed (Debian packages orthanc orthanc-dicomweb)"
    if not DICOMWEB_PLUGIN.is_file():
        return f"the Orthanc DICOMweb plugin is missing ({DICOMWEB_PLUGIN}; orthanc-dicomweb)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Orthanc:
    """One Orthanc process; :meth:`start` and :meth:`stop` may be called repeatedly."""

    root: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    #: Where this Orthanc sends C-MOVE results for VoxRad's AE title.
    voxrad_port: int = field(default_factory=free_port)
    #: DICOM TLS with a self-signed certificate for 127.0.0.1 (see :attr:`ca_file`). HTTP stays
    #: plain: Orthanc 1.10.1 as packaged in Debian 12 segfaults on its first HTTPS request
    #: (tried here), so HTTPS is tested through :class:`TlsProxy` in front of it.
    tls: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate: the CA a client must trust."""
        return self.root / "tls" / "server.crt"

    def _make_certificate(self) -> None:
        folder = self.ca_file.parent
        folder.mkdir(parents=True, exist_ok=True)
        key = folder / "server.key"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", str(key), "-out", str(self.ca_file),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        (folder / "server.pem").write_bytes(key.read_bytes() + self.ca_file.read_bytes())

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.root / "orthanc.log"

    def config(self) -> dict[str, Any]:
        storage = self.root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "Name": "VoxRadTest",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": PACS_AE,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": {"voxrad": [VOXRAD_AE, "127.0.0.1", self.voxrad_port]},
            "HttpThreadsCount": 8,
            "DicomThreadsCount": 2,
            "DicomAssociationCloseDelay": 0,
            "SaveJobs": False,
            "HttpDescribeErrors": True,
        }
        if self.tls:
            tls = self.ca_file.parent
            config.update(
                {
                    "DicomTlsEnabled": True,
                    "DicomTlsCertificate": str(self.ca_file),
                    "DicomTlsPrivateKey": str(tls / "server.key"),
                    "DicomTlsTrustedCertificates": str(self.ca_file),
                    "DicomTlsRemoteCertificateRequired": False,
                }
            )
        return config

    def start(self, timeout: float = 30.0) -> None:
        cfg = self.root / "orthanc.json"
        self.root.mkdir(parents=True, exist_ok=True)
        if self.tls and not self.ca_file.is_file():
            self._make_certificate()
        cfg.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [ORTHANC, str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start:\n{self.log_tail()}")
            try:
                self.rest("GET", "/system")
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)  # a process starting up has no event to wait on
        self.stop()
        raise RuntimeError(f"Orthanc did not start in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crashed server or a pulled cable looks to a client."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def rest(self, method: str, path: str, body: bytes | None = None) -> Any:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Authorization": f"Basic {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def upload(self, paths: list[Path]) -> None:
        for p in paths:
            self.rest("POST", "/instances", p.read_bytes())

    def instance_count(self) -> int:
        return int(self.rest("GET", "/statistics")["CountInstances"])


class TlsProxy:
    """HTTPS on a free loopback port, forwarding plain bytes to ``target_port`` (TLS
    termination, as a hospital's reverse proxy in front of a PACS does)."""

    def __init__(self, target_port: int, certificate: Path, key: Path) -> None:
        self.target_port = target_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(certificate), str(key))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # the client refused the certificate: what the tests check for
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for end in (src, dst):
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join(timeout=30)
        client.close()
        upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)


# --- nodes for a server (shared by the test modules; conftest is not importable by name) ---
def web_node(server: Orthanc, **changes: object) -> PacsNode:
    """The DICOMweb node for ``server`` (password in VOXRAD_PACS_SECRET, set by the test)."""
    fields: dict[str, object] = {
        "name": "orthanc-web",
        "protocol": "dicomweb",
        "url": server.dicomweb_url,
        "auth": "basic",
        "username": USER,
        "timeout_s": 20.0,
    }
    return PacsNode(**{**fields, **changes})  # type: ignore[arg-type]


def dimse_node(server: Orthanc, **changes: object) -> PacsNode:
    fields: dict[str, object] = {
        "name": "orthanc-dimse",
        "protocol": "dimse",
        "host": "127.0.0.1",
        "port": server.dicom_port,
        "called_ae": PACS_AE,
        "calling_ae": VOXRAD_AE,
        "timeout_s": 20.0,
    }
    return PacsNode(**{**fields, **changes})  # type: ignore[arg-type]


Connect = Callable[[PacsNode], PacsClient]

NODES = {"dicomweb": web_node, "dimse": dimse_node}
