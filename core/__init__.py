"""Lowest layer: configuration, prompts and logging, file I/O, workspace layout, ffmpeg, image ops, leras."""
from core import config as _config

_config.tensorflow_cpu_defaults()  # before anything imports TensorFlow: every entry point imports `core` first
