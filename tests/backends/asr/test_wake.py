"""Wake phrase by sound: the recogniser's spellings of "VoxRad" wake, room talk does not."""

from __future__ import annotations

import shutil

import pytest

from voxrad.backends.asr.wake import (
    Phonemizer,
    WakeDetector,
    letter_phonemes,
    phoneme_similarity,
    split_phonemes,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

# How tiny.en wrote "VoxRad" in issue 22's trial (voices the tests never used): all were missed
# by the spelling match; each must wake now.
HEARD_AS = [
    ("Mark said, next slice.", "next slice."),
    ("Mark rad, lung window.", "lung window."),
    ("Moxlad, zoom in.", "zoom in."),
    ("Voxlad, bone window.", "bone window."),
    ("Vox Rad next slice", "next slice"),
    ("box rad, is there a nodule?", "is there a nodule?"),
    ("VoxRad, previous slice.", "previous slice."),
]
ROOM_TALK = [
    "next slice",
    "I think the box is wrong",
    "Mark, what is the blood pressure now?",
    "Max, raise the table a little.",
    "Box of gloves on the left please.",
    "The lab results came back normal.",
    "What's that noise coming from the monitor?",
    "",
]


def test_espeak_mnemonics_split_into_phonemes() -> None:
    assert split_phonemes("v'0ks r'ad") == ["v", "0", "k", "s", "r", "a", "d"]
    assert split_phonemes("m'A@k s'Ed") == ["m", "A@", "k", "s", "E", "d"]
    assert split_phonemes("moUs'A:d") == ["m", "oU", "s", "A:", "d"]


def test_near_sounds_cost_less_than_unrelated_ones() -> None:
    wanted = split_phonemes("v'0ks r'ad")
    near = phoneme_similarity(split_phonemes("f'0ks r'ad"), wanted)  # f for v
    far = phoneme_similarity(split_phonemes("n'Ekst sl'aIs"), wanted)
    assert near > 0.9
    assert far < 0.5
    assert phoneme_similarity(wanted, wanted) == 1.0


@needs_espeak
@pytest.mark.parametrize(("heard", "rest"), HEARD_AS)
def test_the_recognisers_spellings_wake(heard: str, rest: str) -> None:
    match = WakeDetector("VoxRad").match(heard)
    assert match.woke, (heard, match.score)
    assert match.rest == rest


@needs_espeak
@pytest.mark.parametrize("talk", ROOM_TALK)
def test_room_talk_does_not_wake(talk: str) -> None:
    match = WakeDetector("VoxRad").match(talk)
    assert not match.woke, (talk, match.score)
    assert match.rest == talk.strip()


@needs_espeak
def test_sensitivity_moves_the_threshold() -> None:
    heard = "Mark said, next slice."
    assert WakeDetector("VoxRad", sensitivity=0.5).match(heard).woke
    assert not WakeDetector("VoxRad", sensitivity=0.0).match(heard).woke


@needs_espeak
def test_variants_and_multi_word_phrases() -> None:
    hey = WakeDetector("hey scanner")
    assert hey.match("Hey scanner, zoom in").rest == "zoom in"
    assert not hey.match("Hey there, zoom in").woke
    with_variant = WakeDetector("VoxRad", variants=["computer"])
    assert with_variant.match("Computer, lung window").rest == "lung window"


def test_letter_rules_stand_in_without_espeak() -> None:
    assert letter_phonemes("VoxRad") == ["v", "0", "k", "s", "r", "a", "d"]
    offline = Phonemizer()
    offline.binary = None  # as on a workstation without espeak-ng
    detector = WakeDetector("VoxRad", phonemizer=offline)
    assert detector.match("Vox Rad, next slice").rest == "next slice"
    assert detector.match("Fox rad, next slice").woke
    assert not detector.match("The lab results came back normal.").woke
