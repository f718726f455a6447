"""The one exception type for bad user input; `main.py` prints it as a one-line error and exits 1."""


class UserError(Exception):
    """A problem the user can fix (missing file, corrupt image, wrong option); the message names the file."""
