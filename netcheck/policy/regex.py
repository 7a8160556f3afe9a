"""Regular expressions written by users, run by RE2 so that matching time is linear in the text.

In: a pattern as written in a policy (``host_regex``, ``url_regex``), a squid.conf
(``dstdom_regex``, ``url_regex``, ``urlpath_regex``) or an ad-block list (``/regex/``).
Out: a compiled ``UserRegex`` whose ``search`` answers True/False, or ``RegexProblem`` (a
``ValueError``) saying why RE2 cannot run the pattern.

Why RE2 and no fallback to ``re``: a backtracking engine takes exponential time on patterns such
as ``^https://a.com/(a+)+$`` against a long URL, and policies and configs come from people, not
from us. RE2 refuses what it cannot run in linear time (backreferences, lookahead, lookbehind);
such a pattern is the user's to rewrite, so it is reported where it was written.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

MAX_PATTERN = 4096

_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")
_WHY = "netcheck runs user regexes with RE2: no backreferences or lookaround"


class RegexProblem(ValueError):
    """RE2 cannot compile the pattern; the message names the pattern and the reason."""


class UserRegex:
    """A compiled user pattern: ``search`` finds it anywhere in a text, in linear time."""

    __slots__ = ("_compiled", "pattern", "ignore_case")

    def __init__(self, pattern: str, compiled: Any, ignore_case: bool) -> None:
        self.pattern = pattern
        self.ignore_case = ignore_case
        self._compiled = compiled

    def search(self, text: str) -> bool:
        try:
            return self._compiled.search(text) is not None
        except UnicodeEncodeError:
            # a lone surrogate (an undecodable byte in argv) cannot be UTF-8: match the rest
            clean = text.encode("utf-8", "replace").decode("utf-8")
            return self._compiled.search(clean) is not None

    def __repr__(self) -> str:
        return f"UserRegex({self.pattern!r}{', ignore_case' if self.ignore_case else ''})"


def _options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.case_sensitive = not ignore_case
    return options


@functools.lru_cache(maxsize=8192)
def compile_regex(pattern: str, ignore_case: bool = False) -> UserRegex:
    """Compile ``pattern`` with RE2, or raise ``RegexProblem`` naming it and why."""
    if len(pattern) > MAX_PATTERN:
        raise RegexProblem(f"regular expression longer than {MAX_PATTERN} characters")
    if "\x00" in pattern:
        raise RegexProblem("regular expression with a NUL character")
    try:
        compiled = re2.compile(pattern, _options(ignore_case))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else exc
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if "invalid repetition size" in reason or "pattern too large" in reason:
            reason = (
                "too big: a repeat count is over 1000, or nested repeats multiply past what "
                f"RE2 builds ({reason})"
            )
        if "perl operator" in reason or _BACKREFERENCE.match(reason):
            raise RegexProblem(f"RE2 cannot run {_show(pattern)}: {reason} ({_WHY})") from None
        raise RegexProblem(f"bad regular expression {_show(pattern)}: {reason}") from None
    except (UnicodeEncodeError, TypeError) as exc:
        raise RegexProblem(f"not a regular expression {_show(pattern)}: {exc}") from None
    return UserRegex(pattern, compiled, ignore_case)


def regex_problem(pattern: str, ignore_case: bool = False) -> str | None:
    """Why RE2 cannot run ``pattern``, or None when it can."""
    try:
        compile_regex(pattern, ignore_case)
    except RegexProblem as exc:
        return str(exc)
    return None


def _show(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 120 else pattern[:117] + "...")
