"""Lenient JSON for model output: fences, trailing commas, single quotes, truncation.

Small models stop mid-list when they hit the token limit, write Python literals or leave a
trailing comma. A box that was fully written before the cut is still worth showing (flagged),
so the loader keeps every complete element and drops only the unfinished tail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_PY_LITERALS = ((re.compile(r"\bTrue\b"), "true"), (re.compile(r"\bFalse\b"), "false"))
_NONE = re.compile(r"\bNone\b")
_COMMENT = re.compile(r"//[^\n]*")
# A value followed by the next key or element with no comma: `] "label"`, `} {`, `"a" "b"`.
_MISSING_COMMA = re.compile(r'([\]}"\d])(\s+)(?=["{\[])')
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
#: How many cut points to try on a truncated document before giving up.
_MAX_CUTS = 64
#: Deeper nesting than this is not a box list (models write two or three levels); refusing it
#: keeps json's recursion and the scan below bounded on adversarial text.
_MAX_DEPTH = 32
#: Failed candidates after which the search stops (the caller's pattern fallback takes over),
#: so text full of brackets cannot make parsing quadratic.
_MAX_FAILURES = 64


@dataclass(frozen=True)
class JsonBlock:
    """A JSON value found in text: where it was (``start``, ``end``) and whether it was repaired."""

    value: Any
    start: int
    end: int
    repaired: bool
    truncated: bool


def fenced_blocks(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, body)`` of each Markdown code fence, an unclosed last one included."""
    return [(m.start(), m.end(), m.group(2)) for m in _FENCE.finditer(text)]


def _cleanup(fragment: str) -> str:
    out = _COMMENT.sub("", fragment)
    for pattern, repl in _PY_LITERALS:
        out = pattern.sub(repl, out)
    out = _NONE.sub("null", out)
    if '"' not in out and "'" in out:
        out = out.replace("'", '"')
    out = _MISSING_COMMA.sub(r"\1,\2", out)
    return _TRAILING_COMMA.sub(r"\1", out)


def _scan(fragment: str) -> tuple[list[tuple[int, str]], str, bool]:
    """Walk a JSON-ish fragment from its opening bracket.

    Returns the cut points (index just after each closed container, with the closers still
    needed at that point), the closers needed at the very end, and whether the walk ended
    inside a string.
    """
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    in_string = False
    escaped = False
    for pos, ch in enumerate(fragment):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
            if len(stack) > _MAX_DEPTH:
                return [], "", False
        elif ch in "]}":
            if stack and stack[-1] == ch:
                stack.pop()
            cuts.append((pos + 1, "".join(reversed(stack))))
            if not stack:
                break
    return cuts, "".join(reversed(stack)), in_string


def loads_lenient(text: str, start: int = 0) -> JsonBlock | None:
    """Parse the JSON value that begins at ``text[start]`` (a ``[`` or ``{``), repairing it.

    Tries, in order: strict JSON; common slips fixed (comments, Python literals, single quotes,
    trailing commas); then, for a truncated value, the longest prefix that ends after a
    complete element, closed with the brackets still open there. None when nothing parses.
    """
    fragment = text[start:]
    cuts, closers, in_string = _scan(fragment)
    if not cuts and not closers:
        return None  # nested too deep, or not a container at all
    try:
        value, end = _DECODER.raw_decode(text, start)
        return JsonBlock(value, start, end, repaired=False, truncated=False)
    except (ValueError, RecursionError):
        pass
    if cuts and not cuts[-1][1]:
        # The value closed: only slips inside it can be fixed. If they cannot, cutting it
        # short would invent a structure, so leave it to the caller's pattern fallback.
        end = start + cuts[-1][0]
        try:
            return JsonBlock(json.loads(_cleanup(text[start:end])), start, end, True, False)
        except (ValueError, RecursionError):
            return None
    # Unclosed: first try closing everything as is (cut mid-string or after a number).
    tail = fragment + ('"' if in_string else "")
    try:
        return JsonBlock(json.loads(_cleanup(tail + closers)), start, len(text), True, True)
    except (ValueError, RecursionError):
        pass
    for cut, needed in reversed(cuts[-_MAX_CUTS:]):
        candidate = _cleanup(fragment[:cut] + needed)
        try:
            return JsonBlock(json.loads(candidate), start, start + cut, True, True)
        except (ValueError, RecursionError):
            continue
    return None


def find_json_values(text: str, must_contain: tuple[str, ...] = ()) -> list[JsonBlock]:
    """Every top-level JSON array/object in ``text`` (fenced or bare), in order.

    With ``must_contain``, a candidate whose source text holds none of those strings is skipped
    (so a list in the prose, "[see above]", is not mistaken for boxes).
    """
    found: list[JsonBlock] = []
    pos = 0
    failures = 0
    while pos < len(text) and failures < _MAX_FAILURES:
        if must_contain and not any(key in text[pos:] for key in must_contain):
            break
        starts = [i for i in (text.find("[", pos), text.find("{", pos)) if i >= 0]
        if not starts:
            break
        begin = min(starts)
        block = loads_lenient(text, begin)
        if block is None or not isinstance(block.value, list | dict):
            failures += 1
            pos = begin + 1
            continue
        source = text[block.start : block.end]
        if must_contain and not any(key in source for key in must_contain):
            failures += 1
            pos = begin + 1
            continue
        found.append(block)
        pos = max(block.end, begin + 1)
    return found
