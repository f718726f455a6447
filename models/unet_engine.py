"""UNetEngine: what the XSeg and Colorizer engines share: one XSeg U-Net and its optimizer on the device
`placement` picks (NHWC on the CPU, NCHW on a GPU, as DFL), and a train step that applies its gradients only when
the loss is finite. Weights go to `<prefix>_<network>.h5`, the optimizer to `<prefix>_<network>_opt.h5`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from core.leras.archis.xseg import XSegNet
from core.leras.ops import placement
from core.leras.saveable import SavedNetworks


class UNetEngine(SavedNetworks):
    """Subclasses set `network` (its name, DFL's: the weights file and the variables' prefix)."""

    network = "UNet"

    def __init__(self, config_, in_ch: int, out_ch: int, make_optimizer: Callable[[dict], object]) -> None:
        """`config_` has `resolution`, `base_ch`, `data_format` and `seed`; `make_optimizer(variables)` builds the
        optimizer of the network's variables, keyed `<network>/<path>` (the layout DFL's optimizer files convert
        to, see `models.dfl_import`)."""
        self.optimizer_file = f"{self.network}_opt"
        self.device, fmt = placement(config_.data_format)
        self.config, self.data_format = config_, fmt
        with tf.device(self.device):
            net = XSegNet(in_ch, config_.base_ch, out_ch, config_.resolution, fmt,
                          rng=np.random.default_rng(config_.seed))
            self.nets = {self.network: net}
            variables = {f"{self.network}/{k}": v for k, v in net.variables().items()}
            self.optimizer = make_optimizer(variables)
        self._vars = list(variables.values())

    def run_net(self, x: tf.Tensor, **kwargs) -> tf.Tensor:
        """The network on NHWC images, NHWC out (transposed around it in the NCHW layout)."""
        x = x if self.data_format == "NHWC" else tf.transpose(x, (0, 3, 1, 2))
        out = self.nets[self.network](x, **kwargs)
        return out if self.data_format == "NHWC" else tf.transpose(out, (0, 2, 3, 1))

    def finite_step(self, loss_vector: Callable[[], tf.Tensor]) -> tf.Tensor:
        """In a train graph: the per-sample losses `loss_vector()`, the optimizer's update by the gradient of their
        sum (as DFL) when it is finite; the mean loss."""
        with tf.GradientTape() as tape:
            vec = loss_vector()
            total = tf.reduce_sum(vec)
        grads = tape.gradient(total, self._vars)
        tf.cond(tf.math.is_finite(total), lambda: self._apply(grads), lambda: tf.constant(False))
        return tf.reduce_mean(vec)

    def _apply(self, grads):
        with tf.control_dependencies([self.optimizer.apply_gradients(zip(grads, self._vars))]):
            return tf.constant(True)
