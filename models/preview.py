"""Training previews: the sample grid, DFL's loss-history graph, the window header, PNG/JPG files and
TensorBoard scalars. Pure image functions (float or uint8 BGR arrays in, uint8 BGR out) plus two small writers."""
from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.imagelib import io as imageio
from core.imagelib.text import FONT, fit_scale

GRAPH_HEIGHT = 100
HEADER_LINE = 15
MAX_HEIGHT = 800
_BG = 0.1
_FG = 0.8


def to_u8(image: np.ndarray) -> np.ndarray:
    """Float [0,1] (or uint8) HxW, HxWx1 or HxWx3 -> uint8 HxWx3 BGR (gray is repeated into 3 channels)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.ascontiguousarray(img)


def preview_grid(columns: Sequence[np.ndarray], rows: int = 4) -> np.ndarray:
    """One row per sample, one column per array (each NxRxRxC, C 1 or 3, float [0,1]); `rows` samples at most."""
    count = min(rows, *(len(c) for c in columns))
    lines = [np.concatenate([to_u8(col[i]) for col in columns], axis=1) for i in range(count)]
    return np.concatenate(lines, axis=0)


def _loss_colors(count: int) -> list[tuple[int, int, int]]:
    """Loss p of n gets hue p/n; like DFL, the RGB triple is used as BGR (src blue-ish, dst yellow for 2)."""
    return [tuple(int(v * 255) for v in colorsys.hsv_to_rgb(p / count, 1.0, 1.0)) for p in range(count)]


def loss_graph(history: np.ndarray | Sequence[Sequence[float]], width: int, height: int = GRAPH_HEIGHT,
               iteration: int | None = None) -> np.ndarray:
    """DFL's loss graph: per pixel column, a bar from the min to the max of each loss over the iterations that
    fall into it; the vertical scale is twice the mean loss of the last 80 % of the history."""
    img = np.full((height, width, 3), int(_BG * 255), np.uint8)
    hist = np.asarray(history, np.float64).reshape(len(history), -1) if len(history) else np.zeros((0, 1))
    hist = np.where(np.isfinite(hist), hist, 0.0)
    count = len(hist)
    if count:
        top = 2.0 * float(np.mean(hist[int(count * 0.2):]))
        top = top if top > 0 else 1.0
        starts = (np.arange(width) * count) // width
        lows = np.minimum.reduceat(hist, starts, axis=0)
        highs = np.maximum.reduceat(hist, starts, axis=0)
        rows = np.arange(height)[:, None]
        to_row = lambda v: np.rint((1.0 - np.clip(v / top, 0.0, 1.0)) * (height - 1))  # noqa: E731
        for p, color in enumerate(_loss_colors(hist.shape[1])):
            bar = (rows >= to_row(highs[:, p])[None, :]) & (rows <= to_row(lows[:, p])[None, :])
            img[bar] = color
    bands = 5
    for i in range(bands + 1):
        img[int(i * (height - 1) / bands)] = int(_FG * 255)
    if iteration:
        y = int((bands - 1) * (height - 1) / bands)
        cv2.putText(img, f"Iter: {iteration}", (4, y + int(height / bands) - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (int(_FG * 255),) * 3, 1, cv2.LINE_AA)
    return img


def header(lines: Sequence[str], width: int) -> np.ndarray:
    """Text lines on a dark band, 15 px each (the window's key help and model-info line)."""
    img = np.full((HEADER_LINE * len(lines), width, 3), int(_BG * 255), np.uint8)
    for i, text in enumerate(lines):
        scale = fit_scale(text, width - 8, 0.38)  # narrow previews (small resolutions): shrink the line to fit
        cv2.putText(img, text, (4, HEADER_LINE * i + 11), FONT, scale,
                    (int(_FG * 255),) * 3, 1, cv2.LINE_AA)
    return img


def fit_height(image: np.ndarray, max_height: int = MAX_HEIGHT) -> np.ndarray:
    if image.shape[0] <= max_height:
        return image
    scale = max_height / image.shape[0]
    return cv2.resize(image, (max(1, int(image.shape[1] * scale)), max_height), interpolation=cv2.INTER_AREA)


def compose(preview: np.ndarray, history: np.ndarray | Sequence, iteration: int,
            header_lines: Sequence[str] = ()) -> np.ndarray:
    """Header (optional) over the loss graph over the preview, all one width: the window / PNG image."""
    preview = fit_height(to_u8(preview))
    parts = [header(header_lines, preview.shape[1])] if header_lines else []
    parts += [loss_graph(history, preview.shape[1], iteration=iteration), preview]
    return np.concatenate(parts, axis=0)


def write_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Atomically write a preview (float or uint8) as PNG or JPG (by suffix)."""
    imageio.write_image(path, to_u8(image), jpeg_quality)


def write_history(folder: Path, previews: Sequence[tuple[str, np.ndarray]], history, iteration: int) -> None:
    """`<folder>/<preview name>/<iter:07d>.jpg` plus `_last.jpg`: loss graph stacked over each preview."""
    for name, image in previews:
        sub = folder / name
        sub.mkdir(parents=True, exist_ok=True)
        frame = compose(image, history, iteration)
        write_image(sub / f"{iteration:07d}.jpg", frame)
        write_image(sub / "_last.jpg", frame)


class ScalarLog:
    """TensorBoard scalars (src/dst loss) and preview images, written from the training thread.

    Written with TensorFlow's own summary ops and the TensorBoard plugin metadata ("scalars", "images"),
    so the `tensorboard` package is needed only to view the logs, not to write them.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._writer = None

    def _get(self):
        if self._writer is None:
            import tensorflow as tf
            self._writer = tf.summary.create_file_writer(str(self.folder))
        return self._writer

    @staticmethod
    def _metadata(plugin: str):
        from tensorflow.core.framework import summary_pb2
        return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        import tensorflow as tf
        with self._get().as_default():
            for name, value in values.items():
                tf.summary.write(name, tf.constant(float(value), tf.float32), step=step,
                                 metadata=self._metadata("scalars"))

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        import tensorflow as tf
        img = to_u8(image)
        ok, png = cv2.imencode(".png", img)
        if not ok:
            return
        data = tf.constant([str(img.shape[1]).encode(), str(img.shape[0]).encode(), png.tobytes()])
        with self._get().as_default():
            tf.summary.write(name, data, step=step, metadata=self._metadata("images"))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
