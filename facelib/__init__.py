"""Faces: face types, landmarks and alignment, detectors and landmarkers, the aligned-face metadata."""
