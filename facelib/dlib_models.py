"""dlib and the model files of `face_recognition_models`, loaded one way for every dlib user in facelib (the
HOG/CNN detectors, the 68-point shape predictor, the ResNet face descriptor)."""
from __future__ import annotations

from core.errors import UserError

MODEL_FILES = {
    "shape68": "pose_predictor_model_location",
    "mmod": "cnn_face_detector_model_location",
    "resnet": "face_recognition_model_location",
}


def dlib_module():
    """The `dlib` module, or a one-line UserError saying how to install it."""
    try:
        import dlib
    except ImportError as err:
        raise UserError("dlib is not installed: run `pip install -r requirements.txt` (package dlib-bin).") from err
    return dlib


def model_path(kind: str) -> str:
    """Path of a `face_recognition_models` file: `shape68`, `mmod` or `resnet` (the face descriptor)."""
    try:
        import face_recognition_models as frm
    except ImportError as err:
        raise UserError("face_recognition_models is not installed: run `pip install -r requirements.txt`.") from err
    return getattr(frm, MODEL_FILES[kind])()
