"""A small synthetic axial CT written with pydicom, with canary identifiers in its header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from voxrad.core.volume import Volume

NAME = "QUOKKA^WILHELMINA"
PATIENT_ID = "ZX-99173"
ACCESSION = "ACC55821X"
INSTITUTION = "Saint Bartleby Canary Infirmary"
CANARIES = ("quokka", "wilhelmina", "zx-99173", "acc55821x", "bartleby")


def write_ct(folder: Path, *, slices: int = 4, size: int = 48) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    files = []
    j, i = np.mgrid[0:size, 0:size]
    body = ((i - size / 2) / (size * 0.45)) ** 2 + ((j - size / 2) / (size * 0.35)) ** 2 <= 1
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PATIENT_ID, "19610305"
        ds.PatientSex = "F"
        ds.AccessionNumber, ds.InstitutionName = ACCESSION, INSTITUTION
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "101010", "S1"
        ds.ReferringPhysicianName = ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 3, k + 1
        ds.Manufacturer = "Synthetic"
        ds.ImagePositionPatient = [-12.0, -12.0, 5.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 5.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        pixels = np.where(body, 1024 + 40, 24).astype(np.int16)
        ds.PixelData = pixels.tobytes()
        path = folder / f"ct{k:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def headers_by_slice(files: list[Path], volume: Volume) -> dict[int, Dataset]:
    """Which file each acquired slice of ``volume`` is, found by position (never by name)."""
    out = {}
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        k = volume.patient_to_index([float(v) for v in ds.ImagePositionPatient])[0]
        out[round(float(k))] = ds
    return out
