"""Lowest layer: configuration, prompts and logging, file I/O, workspace layout, ffmpeg, image ops, leras."""
