"""The data of the voice command grammar: actions, vocabulary, ASR variants, rules, fillers.

Kept apart from the parser (:mod:`voxrad.assistant.commands.grammar`) so that adding a phrase or a
mishearing is an edit here only. Each rule is a regular expression that must match the whole
normalised utterance (see :func:`voxrad.assistant.commands.textnorm.normalize`) and a builder that
turns the match into the command's arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from enum import StrEnum

from voxrad.assistant.commands.textnorm import ORDINALS


class Action(StrEnum):
    """Viewer actions a voice command can ask for."""

    NEXT_SLICE = "next_slice"
    PREVIOUS_SLICE = "previous_slice"
    GO_TO_SLICE = "go_to_slice"
    FIRST_SLICE = "first_slice"
    LAST_SLICE = "last_slice"
    MIDDLE_SLICE = "middle_slice"
    WINDOW = "window"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"
    RESET_VIEW = "reset_view"
    ORIENTATION = "orientation"
    VIEW_3D = "view_3d"
    LAYOUT = "layout"
    NEXT_SERIES = "next_series"
    PREVIOUS_SERIES = "previous_series"
    MEASURE = "measure"
    OVERLAYS = "overlays"
    SELECT_FINDING = "select_finding"
    STOP_SPEAKING = "stop_speaking"
    REPEAT = "repeat"
    UNDO = "undo"
    CANCEL = "cancel"


Arg = int | str | bool


# --- vocabulary -------------------------------------------------------------------------------

SLICE = r"(?:slice|slices|slide|slides|slight|slights|image|images|frame|frames|cut|cuts|section)"
NEXT = r"(?:next|forward|forwards|down|onward|ahead|necks|nest)"
PREV = r"(?:previous|prior|back|backward|backwards|up|previews|preview)"
MOVE = r"(?:(?:go|move|step|scroll|skip|jump|page|advance|flip)(?: to)? )?"
SET = r"(?:(?:use|set|switch to|switch|change to|change|apply|show|give me|put on|go to|select) )?"
SERIES = r"(?:series|serious|serie|sequence|sequences|scan|stack)"
#: Number slots accept ASR homophones ("finding to", "scroll for").
NUM = r"(?P<n>\d+|to|too|for|won|ate)"
#: Slice counts take digits only: "skip to" is an unfinished sentence, not "skip 2".
COUNT = r"(?P<n>\d+)"
_HOMOPHONES = {"to": 2, "too": 2, "for": 4, "won": 1, "ate": 8, "free": 3, "tree": 3, "fine": 5}
#: A count heard as a homophone is trusted only when "slices" follows ("go back free slices").
HCOUNT = r"(?P<n>to|too|for|free|tree|fine|ate)"

WINDOW_NAMES: dict[str, str] = {
    "lung": "lung",
    "lungs": "lung",
    "pulmonary": "lung",
    "bone": "bone",
    "bones": "bone",
    "bony": "bone",
    "skeletal": "bone",
    "mediastinum": "mediastinum",
    "mediastinal": "mediastinum",
    "soft tissue": "mediastinum",
    "soft tissues": "mediastinum",
    "abdomen": "abdomen",
    "abdominal": "abdomen",
    "abdo": "abdomen",
    "liver": "liver",
    "hepatic": "liver",
    "brain": "brain",
    "subdural": "subdural",
    "stroke": "stroke",
    "default": "default",
    "original": "default",
    "auto": "default",
    "automatic": "default",
}
#: Mishearings accepted only when followed by "window" ("long" alone is not a command).
WINDOW_VARIANTS = {"long": "lung", "lang": "lung", "lunge": "lung", "bowne": "bone", "born": "bone"}

PLANES: dict[str, str] = {
    "axial": "axial",
    "axil": "axial",
    "axle": "axial",
    "axel": "axial",
    "transverse": "axial",
    "coronal": "coronal",
    "coronel": "coronal",
    "coronial": "coronal",
    "frontal": "coronal",
    "sagittal": "sagittal",
    "sagital": "sagittal",
    "saggital": "sagittal",
    "sagittle": "sagittal",
    "sajittal": "sagittal",
}

NAMED_LAYOUTS = {
    "single": (1, 1),
    "one up": (1, 1),
    "side by side": (1, 2),
    "four up": (2, 2),
    "quad": (2, 2),
}

#: Stripped from the start of an utterance (longest first), repeatedly.
LEADING_FILLERS = (
    "i would like you to",
    "i would like to",
    "i want you to",
    "id like to",
    "i want to",
    "go ahead and",
    "can you please",
    "could you please",
    "would you please",
    "can you",
    "could you",
    "would you",
    "will you",
    "can we",
    "lets",
    "let us",
    "please",
    "kindly",
    "okay",
    "ok",
    "alright",
    "all right",
    "so",
    "and",
    "now",
    "well",
    "hey",
    "just",
    "then",
)
#: Stripped from the end of an utterance, repeatedly.
TRAILING_FILLERS = ("please", "thanks", "thank you", "for me", "now", "then", "ok", "okay")
#: Hesitations dropped anywhere, and articles that no command needs.
ANYWHERE = frozenset({"um", "umm", "uh", "uhh", "erm", "er", "ah", "hmm", "mm", "mhm", "the"})

Builder = Callable[[re.Match[str]], tuple[tuple[str, Arg], ...]]


def _none(_: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    return ()


def _count(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    raw = m.groupdict().get("n")
    return (("count", _number(raw) if raw else 1),)


def _index(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    raw = m.group("n")
    return (("index", ORDINALS[raw] if raw in ORDINALS else _number(raw)),)


def _number(raw: str) -> int:
    return _HOMOPHONES[raw] if raw in _HOMOPHONES else int(raw)


def _window(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    name = m.group("w")
    return (("preset", WINDOW_NAMES.get(name) or WINDOW_VARIANTS[name]),)


def _default_window(_: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    return (("preset", "default"),)


def _plane(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    return (("plane", PLANES[m.group("p")]),)


def _layout(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    if m.groupdict().get("name"):
        rows, cols = NAMED_LAYOUTS[m.group("name")]
    else:
        rows, cols = _number(m.group("r")), _number(m.group("c"))
    return (("rows", rows), ("columns", cols))


def _overlays(m: re.Match[str]) -> tuple[tuple[str, Arg], ...]:
    verb = m.group("v")
    return (("visible", verb in {"show", "display", "turn on", "on", "bring back"}),)


def _alternatives(words: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True)) + ")"


_W = _alternatives(WINDOW_NAMES)
_WV = _alternatives(WINDOW_VARIANTS)
_P = _alternatives(PLANES)
_WINDOW_WORD = r"(?:window|windows|preset|setting|settings|level|windowing)"
_OVERLAY_WORD = (
    r"(?:overlay|overlays|box|boxes|annotation|annotations|marks|markers|markings|labels|"
    r"outlines|findings|graphics)"
)
_ORD = _alternatives(ORDINALS)

_BIT = r"(?: a (?:bit|little))?"
_ZOOM_IN = r"(?:zoom|magnify|enlarge|zoom in|zoom closer|closer|bigger|larger)(?: more| in more)?"
_ZOOM_OUT = r"(?:zoom out|zoom back out|shrink|smaller|zoom away)(?: more)?"
_RESET = (
    r"(?:reset|reset (?:view|zoom|image|display|everything|screen|pan)"
    r"|fit(?: to)? (?:window|screen)|home view|original view)"
)
_PLANE_WORD = (
    r"(?: (?:view|plane|plain|slices|images|reconstruction|reformat|reformats|orientation))?"
)
_3D = (
    r"(?:3 ?d|three d|3 dimensional|volume(?: rendering| render| view)?|volume rendered)"
    r"(?: view| rendering| render| mode| reconstruction)?"
)
_SMALL = r"\d+|to|too|for|won"
_GRID = rf"(?:layout |grid )?(?:to )?(?P<r>{_SMALL}) by (?P<c>{_SMALL})(?: layout| grid| view)?"
_NAMED = rf"(?P<name>{_alternatives(NAMED_LAYOUTS)})(?: layout| view| pane| mode)?"
_MEASURE = (
    r"(?:start |begin )?(?:measure|measuring|measurement|ruler|caliper|calipers)"
    r"(?: (?:tool|mode|distance|that|this|it))?"
)
_SHOW_HIDE = r"(?P<v>hide|show|display|turn off|turn on|remove|clear|toggle|bring back)(?: all)?"
_PICK = r"(?:select |show |go to |highlight |jump to |zoom to |focus on )?"
_STOP = (
    r"(?:stop|quiet|silence|enough|hush|shut up|be quiet|pause|stop it)"
    r"(?: (?:talking|speaking|speech|reading|it|that))?"
)
_REPEAT = (
    r"(?:repeat|say (?:that|it) again|again|come again|pardon|pardon me|what did you say"
    r"|repeat (?:that|it|yourself|answer|last answer|last thing))"
)
_UNDO = r"(?:undo|undue|un do|undo (?:that|it|last|last (?:action|change|step)))"
_CANCEL = (
    r"(?:cancel|never ?mind|forget (?:it|that)|abort|scratch that|ignore that|dismiss)"
    r"(?: (?:that|it))?"
)

# Order matters only where two rules could match the same text; the first wins.
RULES: tuple[tuple[str, Action, Builder], ...] = (
    # slices
    (rf"{MOVE}{NEXT}(?: {COUNT})?(?: {SLICE})?", Action.NEXT_SLICE, _count),
    (rf"{MOVE}(?:{COUNT} )?{SLICE} {NEXT}", Action.NEXT_SLICE, _count),
    (rf"(?:scroll|skip|advance|move|go|jump) {COUNT}(?: {SLICE})?", Action.NEXT_SLICE, _count),
    (rf"{MOVE}{PREV}(?: {COUNT})?(?: {SLICE})?", Action.PREVIOUS_SLICE, _count),
    (rf"{MOVE}{NEXT} {HCOUNT} {SLICE}", Action.NEXT_SLICE, _count),
    (rf"{MOVE}{PREV} {HCOUNT} {SLICE}", Action.PREVIOUS_SLICE, _count),
    (rf"{MOVE}(?:{COUNT} )?{SLICE} {PREV}", Action.PREVIOUS_SLICE, _count),
    (rf"{MOVE}(?:first {SLICE}|top|beginning|start)", Action.FIRST_SLICE, _none),
    (rf"{MOVE}(?:(?:last|final) {SLICE}|bottom|end)", Action.LAST_SLICE, _none),
    (rf"{MOVE}(?:middle|centre|center|mid) {SLICE}", Action.MIDDLE_SLICE, _none),
    (rf"{MOVE}{SLICE} (?:number )?(?P<n>\d+)", Action.GO_TO_SLICE, _index),
    # series
    (rf"{MOVE}{NEXT} {SERIES}", Action.NEXT_SERIES, _none),
    (rf"{MOVE}{PREV} {SERIES}", Action.PREVIOUS_SERIES, _none),
    # windows. A bare organ name is a window only on its own or after "use"/"switch to":
    # "show liver" may mean "where is the liver", so other verbs need the word "window".
    (rf"(?P<w>{_W})(?: {_WINDOW_WORD})?", Action.WINDOW, _window),
    (rf"(?:use|apply|switch to|change to|set|go to) (?:a )?(?P<w>{_W})", Action.WINDOW, _window),
    (rf"{SET}(?:a )?(?P<w>{_W}|{_WV}) {_WINDOW_WORD}", Action.WINDOW, _window),
    (rf"{SET}{_WINDOW_WORD} (?:to |for )?(?P<w>{_W})", Action.WINDOW, _window),
    (r"reset (?:window|windowing|level|window level)", Action.WINDOW, _default_window),
    # zoom and view
    (_ZOOM_IN + _BIT, Action.ZOOM_IN, _none),
    (_ZOOM_OUT + _BIT, Action.ZOOM_OUT, _none),
    (_RESET, Action.RESET_VIEW, _none),
    (rf"{SET}(?P<p>{_P}){_PLANE_WORD}", Action.ORIENTATION, _plane),
    (SET + _3D, Action.VIEW_3D, _none),
    (SET + _GRID, Action.LAYOUT, _layout),
    (SET + _NAMED, Action.LAYOUT, _layout),
    # tools, overlays, findings
    (_MEASURE, Action.MEASURE, _none),
    (rf"{_SHOW_HIDE} {_OVERLAY_WORD}", Action.OVERLAYS, _overlays),
    (rf"{_OVERLAY_WORD} (?P<v>off|on)", Action.OVERLAYS, _overlays),
    (rf"{_PICK}(?:finding|findings|lesion|box) (?:number )?{NUM}", Action.SELECT_FINDING, _index),
    (rf"{_PICK}(?P<n>{_ORD}) (?:finding|lesion|box)", Action.SELECT_FINDING, _index),
    # conversation control
    (_STOP, Action.STOP_SPEAKING, _none),
    (_REPEAT, Action.REPEAT, _none),
    (_UNDO, Action.UNDO, _none),
    (_CANCEL, Action.CANCEL, _none),
)

COMPILED = tuple((re.compile(pattern), action, build) for pattern, action, build in RULES)

#: Words the fuzzy corrector may snap a misheard long word onto.
KEYWORDS = frozenset(
    {w for w in WINDOW_NAMES if " " not in w}
    | set(PLANES)
    | {
        "previous",
        "forward",
        "backward",
        "measure",
        "measurement",
        "overlays",
        "annotations",
        "finding",
        "magnify",
        "sequence",
        "dimensional",
        "reconstruction",
        "rendering",
    }
)
