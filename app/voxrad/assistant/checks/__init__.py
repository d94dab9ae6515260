"""Checks on an answer before a clinician sees it: confidence and safety."""
