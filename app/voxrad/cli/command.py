"""``voxrad command TEXT``: show how a spoken sentence is understood (a command or a question)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "command",
        help="show the viewer command (or question) a sentence is understood as",
        description=(
            "Parse TEXT with the voice command grammar, including the synonyms in settings, "
            "and print the viewer action and its arguments, or that it goes to the model as a "
            "question."
        ),
    )
    p.add_argument("text", help='what was said, e.g. "scroll down five slices"')
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--wake-phrase",
        nargs="?",
        const="",
        default=None,
        metavar="PHRASE",
        help="require the wake phrase (the one in settings when PHRASE is omitted)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad.assistant.commands.grammar import CommandGrammar, split_wake_phrase
    from voxrad.cli.output import print_json
    from voxrad.core.settings import load_settings

    settings = load_settings()
    text: str = args.text
    if args.wake_phrase is not None:
        phrase = args.wake_phrase or settings.audio.wake_phrase
        rest = split_wake_phrase(text, phrase)
        if rest is None:
            payload = {"kind": "ignored", "reason": f"does not start with {phrase!r}"}
            if args.json:
                print_json(payload)
            else:
                print(f"ignored: {payload['reason']}")
            return 0
        text = rest
    parsed = CommandGrammar(settings.commands.synonyms).parse(text)
    payload: dict[str, Any] = {"kind": "nothing"} if parsed is None else parsed.to_dict()
    if args.json:
        print_json(payload)
    elif payload["kind"] == "command":
        arguments = ", ".join(f"{k}={v}" for k, v in payload["args"].items())
        print(f"command: {payload['action']}" + (f" ({arguments})" if arguments else ""))
    elif payload["kind"] == "question":
        print(f"question for the model: {payload['text']}")
    else:
        print("nothing to do (only fillers)")
    return 0
