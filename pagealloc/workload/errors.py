"""The error every input reader raises for a malformed line: file, line and field named."""

from __future__ import annotations


class InputFormatError(ValueError):
    """A line of an input file does not follow its format.

    ``str(err)`` reads ``<file>:<line>: field '<field>': <problem>``; the parts are kept
    as ``path``, ``lineno``, ``field`` and ``problem``.
    """

    def __init__(self, path: str, lineno: int, fieldname: str, problem: str) -> None:
        self.path = path
        self.lineno = lineno
        self.field = fieldname
        self.problem = problem
        super().__init__(f"{path}:{lineno}: field '{fieldname}': {problem}")
