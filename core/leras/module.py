"""`Module`: a named tree of sub-modules and `tf.Variable`s, so weights can be listed and saved by path."""
from __future__ import annotations

from typing import Iterator

import tensorflow as tf


class Module:
    """Base of every layer and network: children are registered in assignment order under their attribute name.

    `variables()` returns `{"down1/downs_0/conv1/weight": tf.Variable, ...}`: the same path whatever the data
    format or precision, which is what the weight files are keyed by.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_children", {})

    def __setattr__(self, key: str, value) -> None:
        if isinstance(value, (Module, tf.Variable)):
            self._children[key] = value
        object.__setattr__(self, key, value)

    def add_child(self, name: str, child: "Module") -> "Module":
        """Register a child under an explicit name (for lists such as `downs_0`, `downs_1`)."""
        self._children[name] = child
        return child

    def named_variables(self, prefix: str = "") -> Iterator[tuple[str, tf.Variable]]:
        for name, child in self._children.items():
            path = f"{prefix}{name}"
            if isinstance(child, Module):
                yield from child.named_variables(path + "/")
            else:
                yield path, child

    def variables(self) -> dict[str, tf.Variable]:
        return dict(self.named_variables())

    def param_count(self) -> int:
        return sum(int(v.shape.num_elements()) for _, v in self.named_variables())
