"""Looking a user's choice up in a registry (a dict name -> class or function), with one wording for a name that
is not there."""
from __future__ import annotations

from typing import Mapping, TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], kind: str, name: str) -> T:
    """`registry[name]`; an unknown name is a ValueError: "unknown <kind> 'name'; choose from a, b, c"."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(registry)}") from None
