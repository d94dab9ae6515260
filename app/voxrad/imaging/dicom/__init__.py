"""DICOM: scan headers, group into series, stack slices with correct geometry, read pixels."""
