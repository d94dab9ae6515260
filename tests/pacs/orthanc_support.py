"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on free loopback ports.

Each server has its own storage folder, HTTP basic authentication, AE title checking and
VoxRad registered as a modality (so C-FIND and C-GET are allowed for VoxRad's AE title).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.root / "orthanc.log"

    def config(self) -> dict[str, Any]:
        storage = self.root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        return {
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

    def start(self, timeout: float = 30.0) -> None:
        cfg = self.root / "orthanc.json"
        self.root.mkdir(parents=True, exist_ok=True)
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
