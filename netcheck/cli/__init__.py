"""The ``netcheck`` command: a thin typer shell over the library.

In: ``sys.argv``. Out: machine output on stdout, people's output and errors on stderr, and the
exit code of the contract: 0 all well, 1 something blocked or self-blocking, 2 bad input or flags
(one line naming file, line and field), 3 an internal error (one line; the traceback goes to a
file under the user's log directory, never the current one).

Each sub-command lives in its own module, imported only when that command runs: ``netcheck
--help`` lists the commands from ``COMMANDS`` below and loads none of them, so start-up does not
pay for httpx, dnspython, cryptography or pydantic. ``guard`` turns tool errors
(``NetcheckError``) into the exit-2 line; ``main`` turns everything else into the exit-3 line.
"""

from __future__ import annotations

import copy
import difflib
import functools
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, ParamSpec, TypeVar

import typer
import typer.core
import typer.main

from netcheck import __version__
from netcheck.errors import NetcheckError

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")

EXIT_INTERNAL = 3


class Entry(NamedTuple):
    """Where a sub-command lives, and the one line ``netcheck --help`` shows for it."""

    module: str
    attr: str
    help: str


# The top-level listing reads this table, so `netcheck --help` imports no command module.
# tests/cli/test_help.py fails when a line here drifts from the command's own help.
COMMANDS: dict[str, Entry] = {
    "run": Entry(
        "netcheck.cli.run_cmd",
        "run",
        "Measure every target through DNS, TCP, TLS and HTTP and name what blocked it.",
    ),
    "browse": Entry(
        "netcheck.cli.browse_cmd",
        "browse",
        "Load pages in the installed Chromium; name what fails on them and how it is blocked.",
    ),
    "classify": Entry(
        "netcheck.cli.classify_cmd",
        "classify",
        "Re-classify saved records; exit 1 when something is blocked or degraded.",
    ),
    "check": Entry(
        "netcheck.cli.policy_cmd",
        "check",
        "Compare results with the policy; exit 1 on self-blocking or an unenforced block.",
    ),
    "report": Entry(
        "netcheck.cli.report_cmd",
        "report",
        "Write a report for comms officers, auditors or IT from saved results.",
    ),
    "speed": Entry(
        "netcheck.cli.speed_cmd",
        "speed",
        "Measure goodput; stops once the windows agree: far fewer bytes than a 10 s test.",
    ),
    "schema": Entry(
        "netcheck.cli.schema_cmd", "schema", "Print the JSON Schema of the records netcheck writes."
    ),
    "targets": Entry("netcheck.cli.targets_cmd", "app", "The target catalogue."),
    "policy": Entry(
        "netcheck.cli.policy_cmd",
        "app",
        "The agency's declared policy: validate it, explain a decision, import real configs.",
    ),
    "control": Entry(
        "netcheck.cli.control_cmd",
        "app",
        "A control vantage: measures URLs from outside the agency, for `run --control`.",
    ),
    "diagnose": Entry(
        "netcheck.cli.diagnose_cmd",
        "diagnose",
        "Locate the hop that blocks URL; detect forged resets and injected DNS answers.",
    ),
    "lab": Entry("netcheck.cli.lab", "app", "The agency-network lab (root, Linux)."),
    "server": Entry(
        "netcheck.cli.server_cmd",
        "app",
        "The fleet's collector: enrollment, signed uploads, archive.",
    ),
    "agent": Entry(
        "netcheck.cli.agent_cmd",
        "app",
        "A probe on a staff machine: scheduled runs, spool, signed uploads.",
    ),
    "verify": Entry(
        "netcheck.cli.verify_cmd",
        "verify",
        "Check every record's signature and every probe's chain, offline.",
    ),
    "notify": Entry(
        "netcheck.cli.notify_cmd",
        "notify",
        "Send change alerts and the comms report by e-mail and webhooks, from the collector.",
    ),
}


def __getattr__(name: str) -> Console:
    """``stdout`` and ``stderr``: rich consoles, made on first use (rich costs start-up time)."""
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    console = Console(stderr=True) if name == "stderr" else Console(soft_wrap=True)
    globals()[name] = console
    return console


def guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn tool errors into one clear line and exit code 2; never a traceback."""
    if getattr(fn, "__netcheck_guarded__", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except NetcheckError as exc:
            print(f"netcheck: error: {exc}", file=sys.stderr, flush=True)  # one line, unwrapped
            raise typer.Exit(2) from None

    wrapper.__netcheck_guarded__ = True  # type: ignore[attr-defined]
    return wrapper


class _TypeUnshown:
    """Mixed into a named argument's parameter type: typer 0.28's help shows an argument's
    type beside its metavar (``URL <str>``) unless the type's metavar is empty."""

    def get_metavar(self, param: Any, ctx: Any) -> str:
        return ""


_UNSHOWN: dict[type, type] = {}


def _unshown(kind: type) -> type:
    if kind not in _UNSHOWN:
        _UNSHOWN[kind] = type(kind.__name__, (_TypeUnshown, kind), {})
    return _UNSHOWN[kind]


class _Argument(typer.core.TyperArgument):
    """A named argument as click writes it in a usage line: ``FILE URL``, ``RESULTS...`` for
    one or more, ``[FILE]`` when optional (typer 0.28 writes ``{FILE}`` and drops the dots)."""

    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        var = self.metavar or (self.name or "").upper()
        if self.nargs != 1:
            var += "..."
        return f"[{var}]" if usage and not self.required else var


def tidy_help(command: Any) -> None:
    """Help shows metavars, never Python types: flags (and ``--help``) show no value at all,
    arguments only their metavar. Applied to every command as it is built."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if type(param) is typer.core.TyperArgument:
            param.__class__ = _Argument
        named = isinstance(param, typer.core.TyperArgument) and param.metavar
        if named and not isinstance(param.type, _TypeUnshown):
            # a copy: click's types are shared (STRING is one object for every str parameter);
            # usage lines and errors name the argument by its metavar, never by this
            unshown = copy.copy(param.type)
            unshown.__class__ = _unshown(type(param.type))
            param.type = unshown
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None and help_option.metavar is None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


_BUILT: dict[str, Any] = {}


def load_command(name: str) -> Any:
    """The click command for ``name``, importing its module now (None when not installed)."""
    if name in _BUILT:
        return _BUILT[name]
    entry = COMMANDS[name]
    try:
        module = importlib.import_module(entry.module)
    except ImportError:
        if name == "lab":  # the lab is optional (Linux only)
            return None
        raise
    target = getattr(module, entry.attr)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.command(name)(guard(target))
        command = typer.main.get_command(holder)
    command.name = name
    tidy_help(command)
    _BUILT[name] = command
    return command


class LazyGroup(typer.core.TyperGroup):
    """The top-level group: lists commands from ``COMMANDS``, imports one only to run it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        tidy_help(self)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, entry.help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """click's own main, but a usage error is one ``netcheck: error:`` line (click writes
        the usage, a hint, a blank line and the error: four lines), exit 2."""
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
        from typer.exceptions import Abort

        run = functools.partial(
            super().main,
            args=args,
            prog_name=prog_name,
            complete_var=complete_var,
            windows_expand_args=windows_expand_args,
            **extra,
        )
        if not standalone_mode:
            return run(standalone_mode=False)
        try:
            code = run(standalone_mode=False)
        except NoArgsIsHelpError as exc:  # `netcheck policy` alone: its help, as click does
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            where = hint = ""
            if isinstance(exc, UsageError) and exc.ctx is not None:
                path, root = exc.ctx.command_path, exc.ctx.find_root().command_path
                sub = path.removeprefix(root).strip()  # "targets list"; "" for netcheck itself
                where, hint = (f"{sub}: " if sub else ""), f" (see {path} --help)"
            message = " ".join(exc.format_message().split())
            print(f"netcheck: error: {where}{message}{hint}", file=sys.stderr, flush=True)
            sys.exit(exc.exit_code)
        except Abort:
            print("netcheck: interrupted", file=sys.stderr, flush=True)
            sys.exit(130)
        sys.exit(code if type(code) is int else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader of stdout went away (`netcheck targets list | head -1`): nothing is
            # wrong with the input or the network, so not 1 or 2; 141 is the shell's own code
            # for a writer stopped by a closed pipe (128 + SIGPIPE)
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(141) from None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            close = difflib.get_close_matches(args[0], list(COMMANDS))
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {args[0]!r}.{hint}")
        return super().resolve_command(ctx, args)


def _version(value: bool) -> None:
    if value:
        print(f"netcheck {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="netcheck",
    cls=LazyGroup,
    help="Measure what the network does to the services the agency says staff may use.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help at the top: rich's renderer would load every command
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Measure what the network does to the services the agency says staff may use."""


def internal_error(exc: BaseException) -> int:
    """Keep the traceback in a file, say one line on stderr, and return exit code 3."""
    import traceback

    text = "".join(traceback.format_exception(exc))
    where = _save_details(text)
    message = " ".join(str(exc).split())[:300]
    detail = f"details in {where}" if where else "no details saved (no writable log directory)"
    print(
        f"netcheck: internal error: {type(exc).__name__}: {message}; {detail}",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_INTERNAL


def _save_details(text: str) -> str | None:
    import os
    import tempfile
    import time
    from pathlib import Path

    name = f"crash-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.txt"
    folders: list[Callable[[], str]] = [tempfile.gettempdir]
    try:
        import platformdirs

        folders.insert(0, lambda: platformdirs.user_log_dir("netcheck", appauthor=False))
    except ImportError:  # a bare install without platformdirs still reports the crash
        pass
    for folder in folders:
        try:
            path = Path(folder()) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"netcheck {__version__}\nargv: {sys.argv!r}\n\n{text}", "utf-8")
        except OSError:
            continue
        return str(path)
    return None


def main() -> None:
    try:
        app()
    except NetcheckError as exc:  # raised outside a guarded command (e.g. a callback)
        print(f"netcheck: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        if exc.filename is None:
            sys.exit(internal_error(exc))
        # a path the user named that this account may not read or write, or a folder where a
        # file belongs: the user's input, whichever reader met it first
        print(f"netcheck: error: {exc.filename}: {exc.strerror}", file=sys.stderr, flush=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the one place that turns any crash into exit 3
        sys.exit(internal_error(exc))
