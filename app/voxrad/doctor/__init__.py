"""Workstation checks for `voxrad doctor`."""
