"""gunicorn's access log, with nothing a client sends able to forge a line or reach the terminal that shows it.

gunicorn's `%(U)s` is the decoded path: `/x%0aFORGED` wrote a line of the client's choosing into the log, and
`%1b[2J` a terminal escape. Here `%(U)s` is the path as the client sent it (still percent-encoded: gunicorn
refuses a request target holding control characters or spaces), and every value written is escaped as nginx
escapes its log: `"`, `\\`, control characters and DEL as `\\"`, `\\\\` and `\\xNN`, so that a line still splits
into its fields and reads back unambiguously.
"""

from __future__ import annotations

from gunicorn.glogging import Logger, SafeAtoms

_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def escape(value: str) -> str:
    """A logged value on one line: quotes, backslashes and control characters (C0, DEL, C1) escaped."""
    return value.translate(_ESCAPES)


class _EscapedAtoms(SafeAtoms):
    """gunicorn's atoms (a missing one is '-'), every string escaped instead of only its double quotes."""

    def __init__(self, atoms: dict) -> None:  # not SafeAtoms.__init__, which would escape the quotes once more
        dict.__init__(self, {key: escape(value) if isinstance(value, str) else value for key, value in atoms.items()})


class AccessLogger(Logger):
    """gunicorn's logger (its `logger_class` setting), with the access log's atoms as above."""

    atoms_wrapper_class = _EscapedAtoms

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = getattr(req, "path", None) or atoms["U"]  # the path as sent, not PATH_INFO decoded
        return atoms
