"""Records: the append-only audit log, DICOM SR and key-image export, study reports."""
