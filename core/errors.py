"""The one exception type for bad user input, and the one-line wording of a failed file operation; `main.py`
prints either as a one-line error and exits 1."""
from __future__ import annotations

import errno

# Errors after which no later write to that disk can succeed either: long jobs stop on them, not skip a frame.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

_OS_ERROR_HINTS = {
    errno.ENOSPC: "free some disk space and run it again",
    errno.EDQUOT: "free some disk space and run it again",
    errno.EROFS: "the disk is read-only: choose a folder on another disk",
    errno.EACCES: "check that you may write to that folder",
    errno.EPERM: "check that you may write to that folder",
}


class UserError(Exception):
    """A problem the user can fix (missing file, corrupt image, wrong option); the message names the file."""


def describe_os_error(err: OSError) -> str:
    """`No space left on device: /path/file (free some disk space and run it again)`."""
    where = f": {err.filename}" if err.filename else ""
    hint = _OS_ERROR_HINTS.get(err.errno)
    return f"{err.strerror or err}{where}" + (f" ({hint})" if hint else "")
