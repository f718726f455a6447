"""Faceset loading (folders and packed facesets), sample augmentation and background batch generation."""
