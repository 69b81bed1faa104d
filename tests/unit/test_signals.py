"""core.signals: the fast text helpers read exactly as the plain regex versions do.

The classifier's phrase tables read flattened text and sentences; both are
built with str methods instead of regex substitutions, and the quoted-text
cut starts its search where an attribution could first start. Each test
compares the fast form with the form it replaces, on text built to hit the
edges (every kind of whitespace, Greek capital sigma, attributions without
their verbs...).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core import signals as signals_module
from mailfollow.core.signals import (
    _ATTRIBUTION,
    _ATTRIBUTION_WORDS,
    _ATTRIBUTIONS,
    _REAL_ATTRIBUTION,
    _SENTENCE_BREAK,
    _SPACE_RUNS,
    compile_named,
    find_date,
    find_explicit_date,
    find_phrase,
    find_time,
    flatten,
    sentences,
    strip_quoted,
)

WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
MANY = settings(max_examples=400, deadline=None)

# Words, punctuation, every whitespace character, and letters whose lower case
# depends on their neighbours (final sigma) or grows ("İ").
pieces = st.one_of(
    st.sampled_from(WHITESPACE),
    st.sampled_from(
        ["\u039f\u0394\u039f\u03a3", "\u03a3", "\u03c3", "\u0130", "K", ".", "?", "!", '"', ")"]
    ),
    st.sampled_from(["- ", "1. ", "\n\n", "\u2022 "]),
    st.text(alphabet="abcXYZ \n\t", max_size=6),
)
texts = st.lists(pieces, max_size=14).map("".join)


def flatten_as_written(text: str) -> str:
    return _SPACE_RUNS.sub(" ", text).lower()


def sentences_as_written(text: str) -> list[str]:
    chunks = _SENTENCE_BREAK.split(text)
    joined = (_SPACE_RUNS.sub(" ", chunk).strip() for chunk in chunks if chunk)
    return [chunk for chunk in joined if chunk]


def test_str_split_and_the_regex_engine_agree_on_every_whitespace_character() -> None:
    # flatten and sentences rely on it: str.split() breaks where \s matches.
    regex_space = re.compile(r"\s")
    disagree = [
        c for c in range(sys.maxunicode + 1) if bool(regex_space.match(chr(c))) != chr(c).isspace()
    ]
    assert disagree == []


@MANY
@given(texts)
def test_flatten_makes_each_whitespace_run_one_space_and_lowers_the_case(text: str) -> None:
    assert flatten(text) == flatten_as_written(text)


def test_flatten_keeps_a_run_at_either_end_as_one_space() -> None:
    assert flatten("\n\t Hello \u00a0 World\r\n") == " hello world "
    assert flatten(" \n ") == " "
    assert flatten("") == ""


@MANY
@given(texts)
def test_sentences_are_split_and_joined_as_with_regex_substitution(text: str) -> None:
    assert sentences(text) == sentences_as_written(text)


def cut_as_written(text: str) -> str:
    """strip_quoted with the attribution search started at the beginning."""
    cut = len(text)
    if any(verb in text for _, verb in _ATTRIBUTION_WORDS):
        for match in _ATTRIBUTION.finditer(text):
            if _REAL_ATTRIBUTION.search(match.group(0)):
                cut = match.start()
                break
    return text[:cut]


attribution_parts = st.sampled_from(
    [
        "On Mon, 2 Mar 2026, Jane <jane@acme.example> wrote:",
        "Am 2. März 2026 schrieb Jane:",
        "Le 2 mars 2026, Jane a écrit :",
        "Den 2 mars 2026 skrev Jane:",
        "On the whole I wrote: nothing",
        "Once we wrote: ",
        "xOn 3 Jan wrote:",
        "El lunes escribió:",
        "Thanks!",
        "\n\n",
        "\n",
        " ",
        "On",
        "wrote:",
        "Em 5 escreveu:",
    ]
)


@MANY
@given(st.lists(attribution_parts, max_size=8).map("".join))
def test_the_attribution_search_may_start_at_the_first_word_one_could_start_with(
    text: str,
) -> None:
    assert strip_quoted(text) == strip_quoted_reference(text)


def strip_quoted_reference(text: str) -> str:
    """strip_quoted as first written: the same steps, the attribution searched from 0."""
    original = signals_module._first_attribution_start
    try:
        signals_module._first_attribution_start = _from_the_start  # type: ignore[assignment]
        return strip_quoted(text)
    finally:
        signals_module._first_attribution_start = original


def _from_the_start(text: str) -> int:
    return 0 if any(verb in text for _, verb in _ATTRIBUTION_WORDS) else -1


def test_each_attribution_starts_with_its_first_word_and_needs_its_verb() -> None:
    assert len(_ATTRIBUTIONS) == len(_ATTRIBUTION_WORDS)
    for pattern, (lead, verb) in zip(_ATTRIBUTIONS, _ATTRIBUTION_WORDS, strict=True):
        assert pattern.startswith(rf"\b{lead}\s"), pattern
        assert verb in pattern.replace("[ée]", "e").replace("[óo]", "o"), pattern


def test_an_attribution_late_in_a_reply_still_cuts_there() -> None:
    text = "Sounds good, see you Monday.\n\nOn Mon, 2 Mar 2026, Jane <j@acme.example> wrote:\n> hi"
    assert strip_quoted(text) == "Sounds good, see you Monday."
    assert cut_as_written(text).strip() == "Sounds good, see you Monday."


def test_phrase_search_starting_at_a_known_candidate_finds_the_same_hit() -> None:
    table = compile_named([("first", r"\bnever here\b"), ("second", r"\bget back to you\b")])
    text = "Thanks. We will get back to you soon."
    first = table.first_candidate(flatten(text))
    assert first == 1
    assert find_phrase(table, text, first=first) == find_phrase(table, text)
    assert table.may_match(flatten(text))
    assert not table.passes_gate(0, flatten(text))


def test_text_without_digits_yields_no_calendar_date() -> None:
    reference = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    weekday = find_date("We will decide by Friday next week", reference)
    assert weekday is not None
    assert not weekday.explicit
    dated = find_date("we will decide by 20 March", reference)
    assert dated is not None
    assert dated.explicit


MONTH_DAY_AS_WRITTEN = re.compile(
    signals_module._MONTH_DAY.pattern.replace(f"(?=[{signals_module._MONTH_INITIALS}])", ""),
    signals_module._MONTH_DAY.flags,
)
month_texts = st.lists(
    st.one_of(
        st.sampled_from(sorted(signals_module._MONTHS)).map(
            lambda name: name.upper() if len(name) % 2 else name.title()
        ),
        st.sampled_from([" ", "  ", ". ", ", ", "3", "23rd", "2026", ":", "\u017fept", "o"]),
        st.text(alphabet="ajsS\u017f\u212a1 .", max_size=4),
    ),
    max_size=10,
).map("".join)


def test_the_month_names_lookahead_names_every_first_letter() -> None:
    assert signals_module._MONTH_INITIALS == "adfjmnos"
    assert all(name[0] in signals_module._MONTH_INITIALS for name in signals_module._MONTHS)


@MANY
@given(month_texts)
def test_month_day_dates_match_as_without_the_lookahead(text: str) -> None:
    found = [(m.span(), m.groups()) for m in signals_module._MONTH_DAY.finditer(text)]
    assert found == [(m.span(), m.groups()) for m in MONTH_DAY_AS_WRITTEN.finditer(text)]


date_texts = st.lists(
    st.sampled_from(
        [
            *("next", "Friday", "FRIDAY", "tomorrow", "end of day", "the end of next week"),
            *("next month", "in two weeks", "within 3 business days", "March", "23", "23rd"),
            *("2026-03-23", "3/23", "24/7", "23.03.", "23.03.2026", "the 5th", "-", "/", "."),
            *(" ", ", ", "by ", "Montag", "demain", "o\u212at 5", "\u017fept 23"),
        ]
    ),
    max_size=8,
).map(" ".join)


def _every_match(pattern: re.Pattern[str], text: str, lowered: str) -> object:
    return pattern.finditer(text)


@MANY
@given(text=date_texts, end_of_period=st.booleans())
def test_dates_are_found_as_without_the_prefilters(text: str, end_of_period: bool) -> None:
    reference = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    found = find_date(text, reference, end_of_period=end_of_period)
    original = signals_module._prefiltered_matches
    try:
        signals_module._prefiltered_matches = _every_match  # type: ignore[assignment]
        unfiltered = find_date(text, reference, end_of_period=end_of_period)
    finally:
        signals_module._prefiltered_matches = original
    assert found == unfiltered


@MANY
@given(text=date_texts)
def test_an_explicit_date_is_what_find_date_says_when_it_is_explicit(text: str) -> None:
    reference = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    found = find_date(text, reference)
    expected = found if found is not None and found.explicit else None
    assert find_explicit_date(text, reference) == expected


# Characters that the regex engine's case-insensitive matching folds onto ASCII
# letters (long s, Kelvin sign, dotted and dotless i): a match may contain them.
_FOLDING_LOOKALIKES = "\u017f\u212a\u0131\u0130"
_date_words = st.text(
    alphabet=st.sampled_from(list("0123456789 ,.-/thsndrday ") + list(_FOLDING_LOOKALIKES)),
    max_size=40,
) | st.sampled_from(
    ["23 \u017fept", "by the 3rd of Augu\u017ft", "in 2 wee\u212as", "next \u017funday", "Monday"]
)


@settings(max_examples=300, deadline=None)
@given(text=_date_words, end_of_period=st.booleans())
def test_date_search_never_fails_on_letters_that_only_fold_to_ascii(
    text: str, end_of_period: bool
) -> None:
    reference = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    find_date(text, reference, end_of_period=end_of_period)
    find_time(text)


def test_a_date_written_with_a_long_s_is_read_like_the_plain_one() -> None:
    reference = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)

    long_s = find_date("We will decide by 23 \u017fept", reference)
    plain = find_date("We will decide by 23 sept", reference)

    assert long_s is not None
    assert plain is not None
    assert long_s.day == plain.day
    in_kelvin_weeks = find_date("Expect news in 2 wee\u212as", reference)
    in_weeks = find_date("Expect news in 2 weeks", reference)
    assert in_kelvin_weeks is not None
    assert in_weeks is not None
    assert in_kelvin_weeks.day == in_weeks.day
