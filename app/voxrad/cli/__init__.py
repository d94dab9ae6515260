"""The ``voxrad`` command line.

Each subcommand lives in its own module with ``register(subparsers)`` and a ``run(args)``
that returns an exit code; heavy imports happen inside ``run`` so ``voxrad --help`` is
instant. Errors are one clear line on stderr (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from voxrad import __version__
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (
    "info",
    "open",
    "doctor",
    "settings_cmd",
    "command",
    "transcribe",
    "say",
    "listen",
    "ask",
    "models",
    "audit",
    "export",
    "pacs",
    "eval",
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3
#: ``voxrad ask``: the model's answer ended early (token limit, connection, engine); the
#: fragment is printed and audited, marked as cut off.
EXIT_CUT_OFF = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxrad",
        description=(
            "VoxRad: speech-driven assistant for medical imaging. Decision support, not a "
            "diagnosis. With no command, opens the desktop window."
        ),
    )
    parser.add_argument("--version", action="version", version=f"VoxRad {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--demo", action="store_true", help="open the bundled sample study")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"voxrad.cli.{name}")
        module.register(sub)
    return parser


def _startup(debug: bool) -> None:
    from voxrad.core.settings import load_settings
    from voxrad.main import configure_logging, install_exception_hooks

    try:
        settings = load_settings()
    except VoxRadError:
        from voxrad.core.settings import Settings

        settings = Settings.model_construct()
        configure_logging(settings, debug=debug)
        raise
    configure_logging(settings, debug=debug)
    install_exception_hooks()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        _startup(debug)
        if args.command is None:
            from voxrad.main import run_gui

            return run_gui(demo=args.demo)
        code: int = args.run(args)
        return code
    except VoxRadError as exc:
        logger.info("command failed: %s", type(exc).__name__)
        if debug:
            logger.exception("details")
        print(f"voxrad: {exc.user_message()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("voxrad: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        logger.exception("unexpected error")
        if debug:
            raise
        print(
            f"voxrad: unexpected error ({type(exc).__name__}: {str(exc)[:200]}). "
            "Run again with --debug for details, or send the log to IT.",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
