"""Lowest layer: configuration, prompts and logging, file I/O, workspace layout, ffmpeg, image ops, leras."""
import os

# TensorFlow turns its oneDNN CPU kernels on only for some Intel CPUs. On the others (AMD, AVX2-only Intel) they
# made training ~1.4x faster in bench/train.py, so they are on unless the user set the variable. It must be set
# before TensorFlow is first imported, and every entry point imports `core` first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
