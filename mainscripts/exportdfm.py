"""`main.py exportdfm`: a trained SAEHD, SAEHDBW, Quick96, AMP or AMPBW model as a DeepFaceLive `.dfm` file.

A `.dfm` is an ONNX graph that DeepFaceLive runs with onnxruntime, with DeepFaceLab's names: input `in_face:0`
(N×R×R×3 BGR in [0, 1]; AMP also `morph_value:0`, a 1-element morph factor that DeepFaceLive sets with its
slider), outputs `out_face_mask:0`, `out_celeb_face:0`, `out_celeb_face_mask:0`. The model's
float32 swap graph (`dfm_function`) is frozen and converted with tf2onnx, written atomically beside the model
(`<name>_<MODEL>_model.dfm`, DeepFaceLab's file name) once onnxruntime has run it and matched TensorFlow's
output. A SAEHDBW (or AMPBW) `.dfm` takes colour faces, reads their luma and gives its face back in colour,
as `merge --bw-output luma` does: the live face's colour with the model's brightness; with `--colorize` the
folder's Colorizer is built into the graph and the face takes the src person's colour (`--bw-output colorize`).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from core import fsio, interact
from core.errors import UserError
from models.registry import dfm_models, gray_models

CHECK_MORPH = 0.5   # the morph value an AMP export is checked at (it mixes both inters' channels)
OUTPUT_NAMES = ("out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0")
CHECK_TOLERANCE = 1e-3


def _frozen_graph_def(function):
    """The graph of a `tf.function` with its variables turned into constants (what tf2onnx converts)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    return convert_variables_to_constants_v2(function.get_concrete_function()).graph.as_graph_def()


def use_pure_python_protobuf() -> None:
    """tf2onnx rewrites every node's protobuf once per optimizer pass. With protobuf's C backend (upb) the old copies
    stay in the message's memory arena: about 50x the weights in RAM (16 GB for DeepFaceLab's default 128 px model,
    more than a 24 GB machine for 256 px). The pure-Python backend frees them (and converts faster). It must be
    chosen before protobuf is first imported, i.e. before TensorFlow."""
    if "google.protobuf" not in sys.modules:
        os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise UserError(f"exportdfm needs the {module} package: pip install -r requirements.txt") from err


def input_names(function) -> list[str]:
    """The `.dfm` input names of a `dfm_function`: `in_face:0` (and AMP's `morph_value:0`)."""
    return [f"{spec.name}:0" for spec in function.input_signature]


def check_inputs(function, faces: np.ndarray) -> list[np.ndarray]:
    """What the export is checked with: the faces, and CHECK_MORPH for every further (morph) input."""
    return [faces] + [np.full(spec.shape, CHECK_MORPH, np.float32) for spec in function.input_signature[1:]]


def to_onnx(graph_def, opset: int, inputs: list[str]) -> bytes:
    """The serialized ONNX model of a frozen `dfm_function` graph with these input names; a conversion failure is
    a `UserError`."""
    tf2onnx = _require("tf2onnx")
    quiet = {name: logging.getLogger(name) for name in ("tf2onnx", "tensorflow")}  # TF1-API deprecation notes
    levels = {name: log.level for name, log in quiet.items()}
    try:
        for log in quiet.values():
            log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=inputs,
                                                      output_names=list(OUTPUT_NAMES), opset=opset)
    except Exception as err:  # tf2onnx raises plain exceptions for ops or opsets it cannot convert
        raise UserError(f"tf2onnx could not convert the model at opset {opset}: {err}; try another --opset") from err
    finally:
        for name, log in quiet.items():
            log.setLevel(levels[name])
    return proto.SerializeToString()


def check_with_onnxruntime(data: bytes, feed: dict[str, np.ndarray], want: list[np.ndarray]) -> float:
    """Largest difference between the `.dfm` run by onnxruntime on `feed` (input name -> array) and TensorFlow's
    outputs `want`."""
    session = _require("onnxruntime").InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUT_NAMES), feed)
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want))


def main(args: argparse.Namespace) -> int:
    use_pure_python_protobuf()
    from models.registry import load_model
    model_dir = fsio.input_folder(args.model_dir)
    model = load_model(args.model, model_dir, training=False, force_model_name=args.force_model_name,
                       cpu_only=True)
    output = Path(args.output_file) if args.output_file else model.files.file("model.dfm")
    resolution, name, gray = int(model.options["resolution"]), model.files.full_name, model.CHANNELS == 1
    colorizer = _colorizer(args, model_dir, model)
    function = model.dfm_function(colorizer.engine.colorize_graph if colorizer else None)
    inputs = check_inputs(function, np.random.default_rng(0).random((2, resolution, resolution, 3), dtype=np.float32))
    names = input_names(function)
    want = [t.numpy() for t in function(*inputs)]
    graph_def = _frozen_graph_def(function)
    del model, function, colorizer  # the weights now live in graph_def: free the models' copy before converting
    gc.collect()
    interact.log_info(f"Converting {name} ({resolution} px) to ONNX (opset {args.opset}) ...")
    data = to_onnx(graph_def, args.opset, names)
    difference = check_with_onnxruntime(data, dict(zip(names, inputs)), want)
    if difference > CHECK_TOLERANCE:
        raise UserError(f"{output}: not written: the ONNX graph differs from the model by {difference:.2g} "
                        f"(more than {CHECK_TOLERANCE}); try another --opset")
    output.parent.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write_bytes(output, data)
    interact.log_info(f"Wrote {output} ({len(data) / 2**20:.1f} MB; onnxruntime gives the model's output to within "
                      f"{difference:.1g}). Put it in DeepFaceLive's dfm_models folder and choose it in the Face "
                      "swapper.")
    if len(names) > 1:
        interact.log_info("This is an AMP model: the .dfm takes the morph factor as a second input (morph_value, "
                          "DeepFaceLive's morph slider; 1.0 is the full src face).")
    if gray and args.colorize:
        interact.log_info("This is a grayscale model with its Colorizer: the .dfm gives its face the src person's "
                          "colour (as merge --bw-output colorize); DeepFaceLive's colour transfer pulls it toward "
                          "the live face's.")
    elif gray:
        interact.log_info("This is a grayscale model: the .dfm colours its face with the live face's colour "
                          "(as merge --bw-output luma), so DeepFaceLive's colour transfer can stay off.")
    return 0


def _colorizer(args: argparse.Namespace, model_dir: Path, model):
    """The folder's Colorizer (for the model's face type) when `--colorize` asks for it, else None."""
    if not args.colorize:
        return None
    if model.CHANNELS != 1:
        raise UserError(f"--colorize builds the Colorizer into a grayscale model's .dfm; {args.model} predicts colour "
                        f"(export {' or '.join(m for m in gray_models() if m in dfm_models())}, or leave --colorize "
                        "out)")
    from models.colorizer import load_colorizer
    return load_colorizer(model_dir, model.face_type, cpu_only=True)


def register(subparsers) -> None:
    p = subparsers.add_parser("exportdfm", help="Export a trained model as a DeepFaceLive .dfm (ONNX) file.",
                              description=__doc__.split("\n\n")[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="Model folder (workspace/model).")
    p.add_argument("--model", required=True, choices=dfm_models(), help="Model class to export.")
    p.add_argument("--force-model-name", help="Export the saved model with this name without asking.")
    p.add_argument("--output-file", help="Where the .dfm goes (default: <name>_<MODEL>_model.dfm in the model "
                                         "folder).")
    p.add_argument("--colorize", action="store_true",
                   help="SAEHDBW, AMPBW: build the model folder's Colorizer (train --model Colorizer) into the .dfm, "
                        "so the live face takes the src person's colour instead of the live face's own.")
    p.add_argument("--opset", type=int, default=13, choices=range(11, 19), metavar="11..18",
                   help="ONNX opset (default 13, which older onnxruntime builds such as DeepFaceLive's read too).")
    p.set_defaults(func=main)
