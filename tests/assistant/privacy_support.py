"""A synthetic study full of canary identifiers, and a loopback OpenAI-compatible server that
records every request body it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

NAME = "QUOKKA^WILHELMINA^ZEPHYRINE"
PATIENT_ID = "ZX-99173"
BIRTH_DATE = "19610305"
ACCESSION = "ACC55821X"
INSTITUTION = "Saint Bartleby Canary Infirmary"

#: How the canaries may appear anywhere (lower case, then with separators removed).
CANARIES = (
    "quokka",
    "wilhelmina",
    "zephyrine",
    "zx-99173",
    "zx99173",
    "99173",
    "19610305",
    "1961-03-05",
    "05/03/1961",
    "03/05/1961",
    "march 5, 1961",
    "acc55821x",
    "55821",
    "bartleby",
    "canary infirmary",
)

#: A spoken question as a transcript would hold it: the clinician reads the chart aloud.
SPOKEN_QUESTION = (
    "This is Wilhelmina Quokka, MRN ZX 99173, date of birth March 5, 1961, also written "
    "05/03/1961, accession number ACC 55821 X, from Saint Bartleby Canary Infirmary. "
    "Is there a nodule in the left lung?"
)


def leaked(text: str) -> list[str]:
    """Canaries found in ``text``, also when letters and digits were split by separators."""
    low = text.lower()
    squeezed = "".join(c for c in low if c.isalnum())
    found = [c for c in CANARIES if c in low]
    found += [
        c for c in CANARIES if len(c) >= 5 and "".join(ch for ch in c if ch.isalnum()) in squeezed
    ]
    return sorted(set(found))


def write_study(folder: Path, *, slices: int = 3, rows: int = 32, cols: int = 32) -> Path:
    """A small axial CT whose every file carries the canary identity."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = generate_uid()
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PATIENT_ID, BIRTH_DATE
        ds.AccessionNumber, ds.InstitutionName = ACCESSION, INSTITUTION
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.SeriesDescription = "canary chest"
        ds.ImagePositionPatient = [-8.0, -8.0, float(k) * 2.0]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 2.0
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        pixels = np.full((rows, cols), 1024 - 1000, np.int16)
        pixels[8:24, 8:24] = 1024 + 40
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"slice{k:03d}.dcm", enforce_file_format=True)
    return folder


@dataclass
class CapturingServer:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    reply: str = "No nodule is seen. Confidence: 70%"


@contextmanager
def loopback_server() -> Iterator[CapturingServer]:
    """An OpenAI-compatible chat server on 127.0.0.1 that streams a fixed reply."""
    state = CapturingServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.bodies.append(self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"choices": [{"delta": {"content": state.reply}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
