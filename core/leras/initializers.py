"""Weight initializers as numpy functions `(shape, rng) -> float32 array`, chosen by name from `INITIALIZERS`."""
from __future__ import annotations

from typing import Callable

import numpy as np

Initializer = Callable[[tuple[int, ...], np.random.Generator], np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) the Glorot way: a (k, k, in, out) kernel counts the receptive field in both."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def zeros(shape: tuple[int, ...], rng: np.random.Generator | None = None) -> np.ndarray:
    return np.zeros(shape, np.float32)


def glorot_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)); DFL's default for convs and dense layers."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return ((rng.random(shape, dtype=np.float32) * 2.0 - 1.0) * limit).astype(np.float32)


def _orthogonal_rows(filters: int, rows: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Per filter, `rows` vectors of length `size` taken from eigenbases of random symmetric matrices."""
    blocks = rows // size + 1
    a = rng.standard_normal((filters, blocks, size, size))
    a = a + np.swapaxes(a, -1, -2) * (1.0 - np.eye(size))  # symmetric, diagonal kept once
    u = np.linalg.svd(a)[0]
    return np.swapaxes(u, -1, -2).reshape(filters, blocks * size, size)[:, :rows]


def convolution_aware(shape: tuple[int, ...], rng: np.random.Generator, eps_std: float = 0.05) -> np.ndarray:
    """Convolution-aware init (Aghajanyan 2017) for a (kh, kw, in, out) kernel, as DFL 2.0 used until mid-2021.

    Orthogonal bases are drawn in the 2-D Fourier domain of the kernel, brought back to space, lightly
    noised, and scaled to He variance 2 / fan_in. Dense (2-D) shapes fall back to Glorot.
    """
    if len(shape) != 4:
        return glorot_uniform(shape, rng)
    kh, kw, cin, cout = shape
    fourier_shape = np.fft.rfft2(np.zeros((kh, kw))).shape
    basis_size = int(np.prod(fourier_shape))
    if basis_size == 1:
        basis = rng.normal(0.0, eps_std, (cout, cin, 1))
    else:
        basis = _orthogonal_rows(cout, cin, basis_size, rng)
    basis = basis.reshape((cout, cin) + fourier_shape)
    kernel = np.fft.irfft2(basis, s=(kh, kw)) + rng.normal(0.0, eps_std, (cout, cin, kh, kw))
    kernel *= np.sqrt((2.0 / (cin * kh * kw)) / max(float(np.var(kernel)), 1e-12))
    return kernel.transpose(2, 3, 1, 0).astype(np.float32)


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "ca": convolution_aware,
    "zeros": zeros,
}


def get_initializer(name: str) -> Initializer:
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}") from None
