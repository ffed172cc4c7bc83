"""The one error type that users see: a one-line message and exit status 2."""

__all__ = ["AxforgeError", "bad_value"]


class AxforgeError(ValueError):
    """A user-facing error: bad input, a failed tool run, a broken cache.

    The message is one line that names the field, the value and what is
    allowed. The CLI prints it as ``axforge: error: <message>`` and exits 2.
    """

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


def bad_value(field, value, allowed):
    """Build the standard wording: ``<Field> must be <allowed>, not <value>``."""
    return AxforgeError(f"{field} must be {allowed}, not {value!r}")
