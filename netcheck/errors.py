"""Tool errors: bad input, unreadable files, missing privilege.

Network failures are data (see ``failures.py``), never exceptions. Everything here derives from
``NetcheckError`` and is caught once at the CLI edge, printed as one line, exit code 2.

    NetcheckError
    ├── InputError      a file or option the user gave is wrong (names file, line, field)
    ├── PrivilegeError  the command needs root or a capability it does not have
    └── ServiceError    a service the command talks to (the collector) refused or is unreachable
"""

from __future__ import annotations


class NetcheckError(Exception):
    """Root of every tool error netcheck raises on purpose."""


class InputError(NetcheckError):
    """Bad user input, located as precisely as we can: ``file:line: field: message``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class PrivilegeError(NetcheckError):
    """The command needs root (network namespaces, raw sockets)."""


class ServiceError(NetcheckError):
    """A service the command talks to (the collector) could not be reached or refused."""
