"""Text signals for the classifier: quoted-text stripping, sentences, dates.

Pure helpers over decoded snippets. Dates are read relative to a reference
datetime (the message's own Date, in its own offset); no clock is consulted.

Most patterns match in few snippets, so the classifier's cost is mostly in
finding out that they do not. A :class:`Prefilter`, read once out of each
pattern, names substrings a text must hold for the pattern to match; plain
``in`` tests rule most texts out without running the regex engine, and never
rule out a text the pattern matches.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

# --------------------------------------------------------------------------- quoted text

# Attribution lines that start the quoted original in replies (talon, email_reply_parser).
_ATTRIBUTIONS = (
    r"\bOn\s(?:[^\n]|\n(?!\n)){6,300}?\bwrote\s?:",
    r"\bAm\s\d(?:[^\n]|\n(?!\n)){4,250}?\bschrieb\b[^\n]{0,120}?:",
    r"\bLe\s(?:[^\n]|\n(?!\n)){4,250}?\ba\s[ée]crit\s?:",
    r"\bEl\s(?:[^\n]|\n(?!\n)){4,250}?\bescribi[óo]\s?:",
    r"\bIl\s(?:[^\n]|\n(?!\n)){4,250}?\bha scritto\s?:",
    r"\bOp\s(?:[^\n]|\n(?!\n)){4,250}?\bschreef\b[^\n]{0,120}?:",
    r"\bDen\s(?:[^\n]|\n(?!\n)){4,250}?\bskrev\b[^\n]{0,120}?:",
    r"\bEm\s(?:[^\n]|\n(?!\n)){4,250}?\bescreveu\s?:",
)
_ATTRIBUTION = re.compile("|".join(f"(?:{p})" for p in _ATTRIBUTIONS))
# Each attribution above starts with the first word (after \b) and holds the second,
# as written (the pattern is case-sensitive).
_ATTRIBUTION_WORDS = (
    ("On", "wrote"),
    ("Am", "schrieb"),
    ("Le", "crit"),
    ("El", "escribi"),
    ("Il", "scritto"),
    ("Op", "schreef"),
    ("Den", "skrev"),
    ("Em", "escreveu"),
)
_REAL_ATTRIBUTION = re.compile(r"\d|@|<")
_SEPARATOR = re.compile(
    r"(?im)^[ \t]*(?:-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht|forwarded message|"
    r"weitergeleitete nachricht)\s*-{2,}|begin forwarded message:)"
)
_HEADER_FROM = re.compile(r"(?im)^[ \t]*\*?(?:from|von|de|van|da|fra|från|od|от)\s?\*?:\s*\S")
_HEADER_DATE = re.compile(
    r"(?im)^[ \t]*\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|verzonden|inviato|data|"
    r"skickat|sendt)\s?\*?:\s*\S"
)


def strip_quoted(text: str) -> str:
    """The text the sender wrote: quoted original and forwarded blocks removed.

    Cuts at the first attribution line ("On ... wrote:", "Am ... schrieb:"),
    "-----Original Message-----"-style separator or Outlook header block
    (From:/Sent: in any of several languages), and drops ``>`` lines.
    """
    cut = len(text)
    first = _first_attribution_start(text)
    if first >= 0:
        for match in _ATTRIBUTION.finditer(text, first):
            if _REAL_ATTRIBUTION.search(match.group(0)):  # a date or an address
                cut = match.start()
                break
    if "--" in text or not text.isascii() or "begin forwarded" in text.lower():
        separator = _SEPARATOR.search(text, 0, cut)
        if separator:
            cut = separator.start()
    if text.find(":", 0, cut) >= 0:
        for match in _HEADER_FROM.finditer(text, 0, cut):
            following = text[match.end() : match.end() + 400]
            if _HEADER_DATE.search(following):
                cut = min(cut, match.start())
                break
    if text.find(">", 0, cut) < 0:
        return text[:cut].strip()
    kept = [line for line in text[:cut].split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


def _first_attribution_start(text: str) -> int:
    r"""Where the first attribution could start, or -1 when none can be in ``text``.

    One starts at its first word and needs its second; no match starts before
    the first such word, and ``\b`` still sees the character before it.
    """
    first = -1
    for lead, verb in _ATTRIBUTION_WORDS:
        if verb in text:
            found = text.find(lead)
            if found >= 0 and (first < 0 or found < first):
                first = found
    return first


# --------------------------------------------------------------------------- sentences

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n|\n(?=\s*(?:[-•*·]|\d+[.)])\s)")
# Whitespace that changes when each run becomes one space: runs of two or more, and
# single whitespace other than a space (cheaper than rewriting every space).
_SPACE_RUNS = re.compile(r"\s{2,}|[^\S ]")
_ALWAYS = re.compile("")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_CONDITIONAL = re.compile(
    r"(?i)\b(?:if|unless|should (?:you|we|your|there)|in the event|in case|whether|"
    r"provided that|wenn|falls|sofern|si)\b"
)


def sentences(text: str) -> list[str]:
    """Sentences of a plain text; hard-wrapped lines are joined first."""
    # " ".join(chunk.split()) is each whitespace run made one space, then stripped:
    # str.split() and the regex engine's \s agree on every code point.
    joined = (" ".join(chunk.split()) for chunk in _SENTENCE_BREAK.split(text) if chunk)
    return [chunk for chunk in joined if chunk]


def without_urls(text: str) -> str:
    prefilter = cached_prefilter(_URL)
    if prefilter is not None and not prefilter.admits_text(text):
        return text  # no "http" or "www." in it
    return _URL.sub(" ", text)


@dataclass(frozen=True)
class PhraseHit:
    """Where a named phrase matched: its name, the matched words and the sentence."""

    name: str
    words: str
    sentence: str


@dataclass(frozen=True)
class PhraseTable:
    """Named patterns, tried in order, each with a cheap gate to rule text out fast.

    A gate is its pattern without word-boundary assertions, matched without
    IGNORECASE against lower-cased text: it accepts everything the pattern
    accepts (and a little more), and runs several times faster because the
    regex engine can then scan for the first literal characters. Before the
    gate, plain substring tests (its :class:`Prefilter`) rule out most texts
    for less still.
    """

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    gates: tuple[re.Pattern[str], ...]
    prefilters: tuple[Prefilter | None, ...] = ()  # per pattern; missing or None: none
    # Per pattern: the prefilter's alternatives (for case-sensitive ones), those of
    # a case-insensitive one (tested on ASCII text only), and the gate.
    _checks: tuple[_GateCheck, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks = []
        for index, gate in enumerate(self.gates):
            prefilter = self.prefilters[index] if index < len(self.prefilters) else None
            alternatives = prefilter.alternatives if prefilter is not None else ()
            lowered = prefilter is not None and prefilter.lowered
            checks.append((() if lowered else alternatives, alternatives if lowered else (), gate))
        object.__setattr__(self, "_checks", tuple(checks))

    def __iter__(self) -> Iterator[tuple[str, re.Pattern[str]]]:
        return iter(self.patterns)

    def passes_gate(self, index: int, flat: str) -> bool:
        """Whether pattern ``index`` could match a sentence of the text flattened to ``flat``."""
        return self.first_candidate(flat, index, index + 1) == index

    def may_match(self, flat: str) -> bool:
        """Whether any pattern could match a sentence of the text flattened to ``flat``."""
        return self.first_candidate(flat) >= 0

    def first_candidate(self, flat: str, start: int = 0, stop: int | None = None) -> int:
        """The first index from ``start`` (before ``stop``) whose pattern passes its
        gate on ``flat``, or -1: the patterns :func:`find_phrase` has to try."""
        checks = self._checks
        is_ascii: bool | None = None  # worked out when first needed
        for index in range(start, len(checks) if stop is None else stop):
            alternatives, ascii_alternatives, gate = checks[index]
            if alternatives and not _holds_one_alternative(alternatives, flat):
                continue
            if ascii_alternatives:
                if is_ascii is None:
                    is_ascii = flat.isascii()
                if is_ascii and not _holds_one_alternative(ascii_alternatives, flat):
                    continue
            if gate.search(flat) is not None:
                return index
        return -1


_Alternatives = tuple[tuple[tuple[str, ...], ...], ...]
_GateCheck = tuple[_Alternatives, _Alternatives, re.Pattern[str]]


def _holds_one_alternative(alternatives: _Alternatives, text: str) -> bool:
    """Whether, for some alternative, ``text`` holds one string of each of its groups."""
    # Plain loops: this runs tens of times per message and a generator costs more
    # than the substring tests it drives.
    for groups in alternatives:
        for group in groups:
            for part in group:
                if part in text:
                    break
            else:  # no string of this group: the alternative fails
                break
        else:  # every group held one
            return True
    return False


def compile_named(pairs: Iterable[tuple[str, str]]) -> PhraseTable:
    """A PhraseTable from (name, pattern) pairs written in lower case; matching ignores case."""
    pairs = tuple(pairs)
    patterns = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in pairs)
    gates = tuple(_gate(pattern) for _, pattern in pairs)
    return PhraseTable(
        patterns=patterns,
        gates=gates,
        # A gate that always passes (lookarounds) is prefiltered with the pattern itself.
        prefilters=tuple(
            prefilter_for(pattern if gate is _ALWAYS else gate)
            for (_, pattern), gate in zip(patterns, gates, strict=True)
        ),
    )


def _gate(pattern: str) -> re.Pattern[str]:
    if "(?!" in pattern or "(?<" in pattern:
        return _ALWAYS  # a lookaround could see past the sentence end in flattened text
    return re.compile(pattern.replace(r"\b", ""))


def flatten(text: str) -> str:
    """Lower-cased text on one line, every whitespace run one space: what PhraseTable
    gates read (``_SPACE_RUNS.sub(" ", text).lower()``, faster)."""
    joined = " ".join(text.split())
    if not joined:
        return " " if text else ""  # whitespace only
    if text[0].isspace():
        joined = " " + joined
    if text[-1].isspace():
        joined += " "
    return joined.lower()


def find_phrase(
    table: PhraseTable,
    text: str,
    *,
    skip_conditional: bool = True,
    split: list[str] | None = None,
    flat: str | None = None,
    first: int | None = None,
) -> PhraseHit | None:
    """The first named pattern found in a sentence of ``text``.

    With ``skip_conditional``, a match preceded in its sentence by "if",
    "unless", "should you"... does not count: "If you are not selected for
    this role, ..." is an acknowledgement's caveat, not a rejection.
    ``split``, ``flat`` and ``first`` pass ``sentences(text)``,
    ``flatten(text)`` and ``table.first_candidate(flat)`` when the caller
    already has them.
    """
    flat = flatten(text) if flat is None else flat
    # Patterns whose gate fails are skipped: every sentence is a substring of ``flat``.
    index = table.first_candidate(flat) if first is None else first
    while index >= 0:
        name, pattern = table.patterns[index]
        split = sentences(text) if split is None else split
        for sentence in split:
            for match in pattern.finditer(sentence):
                if skip_conditional and _CONDITIONAL.search(sentence, 0, match.start()):
                    continue
                return PhraseHit(name, match.group(0), sentence)
        index = table.first_candidate(flat, index + 1)
    return None


# --------------------------------------------------------------------------- prefilters

# The stdlib's regex parser, to read literal runs out of a pattern (it ships no type stubs).
_sre_parser = importlib.import_module("re._parser")
_MAX_ALTERNATIVES = 64  # literal sets grow by cross product; beyond this, stop growing
_MIN_ANCHOR = 2  # single characters are in nearly every text: not worth testing
_MAX_GROUPS = 3


@dataclass(frozen=True)
class Prefilter:
    """Substrings a text must hold for a pattern to match in it.

    ``alternatives`` mirror the pattern's top-level alternation (one for a
    pattern without one); a text may match only if, for some alternative, it
    holds one string of each of its groups. Tested with plain ``in``, far
    cheaper than the pattern. A prefilter of a case-insensitive pattern
    (``lowered``) holds lower-case ASCII strings and can only rule out ASCII
    text, which it reads lower-cased: only there do lower-casing and the regex
    engine's case folding agree character by character.
    """

    alternatives: tuple[tuple[tuple[str, ...], ...], ...]
    lowered: bool

    def admits(self, text: str) -> bool:
        """False only when no match is possible (``text`` as the pattern reads it,
        lower-cased when ``lowered``)."""
        return _holds_one_alternative(self.alternatives, text)

    def admits_text(self, text: str, *, lowered: str | None = None) -> bool:
        """Like :meth:`admits` for the text itself; ``lowered`` may pass ``text.lower()``."""
        if not self.lowered:
            return self.admits(text)
        if not text.isascii():
            return True
        return self.admits(text.lower() if lowered is None else lowered)


def prefilter_for(pattern: re.Pattern[str]) -> Prefilter | None:
    """What every match of ``pattern`` must contain, or None when nothing useful is known.

    Read from the parsed pattern: literal runs, character sets of literals
    and alternations of those combine into sets of exact strings; each part
    of a sequence that must occur (a repeat only when at least once)
    contributes the set of strings one of which its match contains. Parts the
    reading does not know contribute nothing, so the prefilter may admit text
    the pattern rejects, never the reverse.
    """
    if not isinstance(pattern.pattern, str):
        return None
    try:
        parsed = _sre_parser.parse(pattern.pattern, pattern.flags)
    except (re.error, TypeError, ValueError, AttributeError):
        return None
    lowered = bool(pattern.flags & re.IGNORECASE)
    alternatives = []
    for branch in _top_level_branches(list(parsed)):
        groups = _usable_groups(_read_sequence_groups(branch)[1], lowered=lowered)
        if not groups:
            return None  # this branch may match anything
        alternatives.append(groups)
    return Prefilter(tuple(alternatives), lowered) if alternatives else None


def _top_level_branches(items: list[tuple[object, object]]) -> list[list[tuple[object, object]]]:
    """The branches of a pattern that is one alternation (around zero-width
    assertions and groups), else the pattern as its one branch."""
    solid = [item for item in items if str(item[0]) not in _ZERO_WIDTH]
    if len(solid) == 1:
        operator, argument = solid[0]
        if str(operator) == "BRANCH" and isinstance(argument, tuple) and len(argument) == 2:
            return [list(branch) for branch in argument[1]]
        if str(operator) == "SUBPATTERN" and isinstance(argument, tuple) and len(argument) == 4:
            add_flags = argument[1]
            if isinstance(add_flags, int) and not add_flags & re.IGNORECASE:
                return _top_level_branches(list(argument[3]))
    return [items]


def _usable_groups(found: list[frozenset[str]], *, lowered: bool) -> tuple[tuple[str, ...], ...]:
    """The groups worth testing, cheapest to rule out first (fewest strings)."""
    groups = []
    for strings in found:
        if lowered:
            usable = _for_lowered_ascii(strings)
            if usable is None:
                continue
            strings = usable
        if not strings or min(map(len, strings)) >= _MIN_ANCHOR:
            groups.append(tuple(sorted(strings, key=lambda part: (-len(part), part))))
    groups.sort(key=lambda group: (len(group), -min(map(len, group), default=1000)))
    return tuple(groups[:_MAX_GROUPS])


def _for_lowered_ascii(strings: frozenset[str]) -> frozenset[str] | None:
    """A group of a case-insensitive pattern as lower-cased ASCII text can hold it.

    A string with a letter that folds onto no ASCII letter ("ü") cannot occur
    in ASCII text and is left out; one with a letter that does ("\u017f" is
    an s to the regex engine) makes the group unusable (None).
    """
    kept = set()
    for part in strings:
        if part.isascii():
            kept.add(part.lower())
        elif not any(_never_ascii(character) for character in part):
            return None
    return frozenset(kept)


def _never_ascii(character: str) -> bool:
    """Whether the regex engine's case folding never matches this with an ASCII letter:
    it compares lower-case forms, and also takes dotless i and long s for i and s."""
    if character.isascii() or character in _FOLDS_ONTO_ASCII:
        return False
    return not any(folded.isascii() for folded in character.lower())


_FOLDS_ONTO_ASCII = frozenset({"\u0131", "\u017f"})  # dotless i, long s


@functools.cache
def cached_prefilter(pattern: re.Pattern[str]) -> Prefilter | None:
    """:func:`prefilter_for`, worked out once per pattern."""
    return prefilter_for(pattern)


def search_prefiltered(
    pattern: re.Pattern[str], text: str, *, lowered: str | None = None
) -> re.Match[str] | None:
    """``pattern.search(text)``, skipped when the pattern's prefilter rules the text out;
    ``lowered`` may pass ``text.lower()`` when the caller has it."""
    prefilter = cached_prefilter(pattern)
    if prefilter is not None and not prefilter.admits_text(text, lowered=lowered):
        return None
    return pattern.search(text)


def sentence_may_match(pattern: re.Pattern[str], flat: str) -> bool:
    """False when ``pattern`` can match in none of the sentences of the text that
    flattens to ``flat`` (each sentence is, lower-cased, a substring of it)."""
    prefilter = cached_prefilter(pattern)
    if prefilter is None or not prefilter.lowered or not flat.isascii():
        return True
    return prefilter.admits(flat)


# A parsed item reads as ("exact", strings): it always matches one of these strings;
# ("contains", strings): each match contains one of them; or None: nothing known.
_Reading = tuple[str, frozenset[str]] | None
_EMPTY = frozenset({""})
_ZERO_WIDTH = frozenset({"AT", "ASSERT", "ASSERT_NOT"})  # they consume nothing


def _read_sequence(items: list[tuple[object, object]]) -> _Reading:
    """A sequence as one item: exact when all its parts are, else its best requirement."""
    reading, groups = _read_sequence_groups(items)
    if reading is not None or not groups:
        return reading
    return ("contains", max(groups, key=_selectivity))


def _read_sequence_groups(
    items: list[tuple[object, object]],
) -> tuple[_Reading, list[frozenset[str]]]:
    """(the exact reading when every part is exact, else None; the required sets).

    Runs of exact parts multiply out into one set; the other parts add their own.
    """
    groups: list[frozenset[str]] = []
    run = _EMPTY
    all_exact = True
    for item in items:
        reading = _read_item(item)
        if reading is not None and reading[0] == "exact":
            longer = _concatenate(run, reading[1])
            if longer is None:  # too many combinations: the run so far stands on its own
                all_exact = False
                groups.append(run)
                longer = reading[1]
            run = longer
            continue
        all_exact = False
        groups.append(run)
        run = _EMPTY
        if reading is not None:
            groups.append(reading[1])
    if all_exact:
        return ("exact", run), [run]
    groups.append(run)
    return None, [group for group in groups if _selectivity(group)[0] > 0]


def _concatenate(left: frozenset[str], right: frozenset[str]) -> frozenset[str] | None:
    if len(left) * len(right) > _MAX_ALTERNATIVES:
        return None
    return frozenset(a + b for a in left for b in right)


def _selectivity(strings: frozenset[str]) -> tuple[int, int]:
    return (min(map(len, strings)), -len(strings))


def _read_item(item: tuple[object, object]) -> _Reading:
    operator, argument = item
    name = str(operator)
    if name == "LITERAL" and isinstance(argument, int):
        return ("exact", frozenset({chr(argument)}))
    if name in _ZERO_WIDTH:
        return ("exact", _EMPTY)
    if name == "IN" and isinstance(argument, list):
        return _read_character_set(argument)
    if name == "SUBPATTERN" and isinstance(argument, tuple) and len(argument) == 4:
        _group, add_flags, _del_flags, body = argument
        if not isinstance(add_flags, int) or add_flags & re.IGNORECASE:
            return None
        return _read_sequence(list(body))
    if name == "BRANCH" and isinstance(argument, tuple) and len(argument) == 2:
        return _read_branches([_read_sequence(list(branch)) for branch in argument[1]])
    if name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"} and isinstance(argument, tuple):
        low, high, body = argument
        inner = _read_sequence(list(body))
        if inner is None or not isinstance(low, int) or low < 1:
            return None
        if low == 1 and high == 1:
            return inner
        return ("contains", inner[1])
    return None  # character classes, assertions, groups referenced...: nothing known


def _read_character_set(members: list[tuple[object, object]]) -> _Reading:
    characters = set()
    for operator, argument in members:
        if str(operator) != "LITERAL" or not isinstance(argument, int):
            return None  # a range, a category, a negation...
        characters.add(chr(argument))
    return ("exact", frozenset(characters)) if characters else None


def _read_branches(readings: list[_Reading]) -> _Reading:
    if any(reading is None for reading in readings):
        return None
    known = [reading for reading in readings if reading is not None]
    union = frozenset().union(*(strings for _, strings in known))
    if all(kind == "exact" for kind, _ in known):
        return ("exact", union)
    return ("contains", union)


# --------------------------------------------------------------------------- dates

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
    "samstag": 5, "sonntag": 6, "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3,
    "vendredi": 4, "samedi": 5, "dimanche": 6,
}  # fmt: skip
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a few": 3, "few": 3, "a couple of": 2, "couple of": 2, "a couple": 2, "several": 3,
}  # fmt: skip


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_MONTH = _alternation(_MONTHS)
_WEEKDAY = _alternation(_WEEKDAYS)
_NUMBER = r"\d{1,3}|" + _alternation(_NUMBER_WORDS)
_ORDINAL = r"(?:st|nd|rd|th|er|e)?"

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DAY_MONTH = re.compile(
    rf"(?i)\b(\d{{1,2}}){_ORDINAL}\.?(?:\s+of)?\s+({_MONTH})\.?(?:,?\s+(\d{{4}}))?\b"
)
# Every month name starts with one of these letters; the lookahead lets most words
# fail at their first letter instead of against each of the names in turn.
_MONTH_INITIALS = "".join(sorted({name[0] for name in _MONTHS}))
_MONTH_DAY = re.compile(
    rf"(?i)\b(?=[{_MONTH_INITIALS}])({_MONTH})\.?\s+(\d{{1,2}}){_ORDINAL}\b(?!:)(?:,?\s+(\d{{4}})\b)?"
)
_SLASH_DATE = re.compile(r"(?<![\d/])(?!24/7\b)(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_DOT_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?(?!\d)")
_DAY_OF_MONTH = re.compile(r"(?i)\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
_WEEKDAY_WORD = re.compile(rf"(?i)\b(?:(next|this|coming)\s+)?({_WEEKDAY})\b")
_TOMORROW = re.compile(r"(?i)\b(tomorrow|morgen|demain|mañana)\b")
_TODAY = re.compile(r"(?i)\b(today|end of (?:the )?day|eod|close of business|cob)\b")
_WEEK_REF = re.compile(
    r"(?i)\b(?:(early|later|end of|the end of|by the end of)\s+)?"
    r"(?:the\s+)?(next|this|coming)\s+week\b"
    r"|\b(end of (?:the )?week|later this week)\b"
)
_MONTH_REF = re.compile(r"(?i)\b(end of (?:the |this )?month|next month)\b")
_SPAN = re.compile(
    rf"(?i)\b(?:in|within|after)\s+(?:the\s+next\s+|about\s+|around\s+|roughly\s+)?"
    rf"(?:({_NUMBER})\s*(?:-|\u2013|to)\s*)?({_NUMBER})\s+(business\s+|working\s+)?"
    r"(days?|weeks?|months?)\b"
)
_TIME = re.compile(
    r"(?i)\b(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])|\b(\d{1,2})[:.](\d{2})\b(?!\s*%)"
)


@dataclass(frozen=True)
class FoundDate:
    """A calendar day read from text, with the words it came from."""

    day: date
    words: str
    explicit: bool  # a calendar date was written, not "Friday" or "next week"


def find_date(text: str, reference: datetime, *, end_of_period: bool = False) -> FoundDate | None:
    """The first date stated in ``text``, resolved against ``reference``.

    Explicit dates ("23 March", "March 23rd, 2026", "2026-03-23", "3/23",
    "23.03.") win over weekdays ("Monday") and periods ("next week", "in two
    weeks"). Dates without a year take the first one not before the
    reference day. ``end_of_period`` picks the last working day of a period
    ("next week" -> Friday), as a promise of news means; otherwise its first
    ("back next week" -> Monday).
    """
    explicit = find_explicit_date(text, reference)
    if explicit is not None:
        return explicit
    today = reference.date()
    relative = sorted(_relative_dates(text, today, end_of_period), key=lambda found: found[0])
    return relative[0][1] if relative else None


def find_explicit_date(text: str, reference: datetime) -> FoundDate | None:
    """The first calendar date written in ``text`` (what :func:`find_date` says when
    that is explicit), or None: weekdays and periods are not looked for."""
    explicit = sorted(_explicit_dates(text, reference.date()), key=lambda found: found[0])
    return explicit[0][1] if explicit else None


def find_time(text: str) -> time | None:
    """The first clock time in ``text`` ("2:00 PM", "2pm", "14:00", "14.30 Uhr")."""
    for match in _TIME.finditer(text):
        if match.group(1):
            hour, minute = int(match.group(1)), int(match.group(2) or 0)
            meridiem = match.group(3).lower().replace(".", "")
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        else:
            hour, minute = int(match.group(4)), int(match.group(5))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    return None


def at_start_of_day(day: date, reference: datetime) -> datetime:
    """Midnight of ``day`` in the reference's own offset."""
    return datetime.combine(day, time(0, 0), tzinfo=reference.tzinfo)


_DIGIT = re.compile(r"\d")  # every explicit date pattern needs one


def _explicit_dates(text: str, today: date) -> Iterator[tuple[int, FoundDate]]:
    if not _DIGIT.search(text):
        return
    # Each pattern below runs only on text holding the character it cannot do without.
    for match in _ISO_DATE.finditer(text) if "-" in text else ():
        day = _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if day and _plausible(day, today):
            yield match.start(), FoundDate(day, match.group(0), True)
    for match in _DAY_MONTH.finditer(text):
        month = _MONTHS[_folded(match.group(2))]
        yield from _dated(match, today, int(match.group(1)), month, match.group(3))
    for match in _MONTH_DAY.finditer(text):
        month = _MONTHS[_folded(match.group(1))]
        yield from _dated(match, today, int(match.group(2)), month, match.group(3))
    for match in _SLASH_DATE.finditer(text) if "/" in text else ():
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12:  # US order (month/day) unless impossible
            first, second = second, first
        yield from _dated(match, today, second, first, match.group(3))
    for match in _DOT_DATE.finditer(text) if "." in text else ():
        if match.group(3) is None and not match.group(0).endswith("."):
            continue
        yield from _dated(match, today, int(match.group(1)), int(match.group(2)), match.group(3))
    for match in _DAY_OF_MONTH.finditer(text):
        number = int(match.group(1))
        day = _next_day_of_month(today, number)
        if day:
            yield match.start(), FoundDate(day, match.group(0), True)


def _dated(
    match: re.Match[str], today: date, day: int, month: int, year_text: str | None
) -> Iterator[tuple[int, FoundDate]]:
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        found = _safe_date(year, month, day)
        if found and _plausible(found, today):
            yield match.start(), FoundDate(found, match.group(0), True)
        return
    found = _safe_date(today.year, month, day)
    if found and found < today:
        found = _safe_date(today.year + 1, month, day)
    if found:
        yield match.start(), FoundDate(found, match.group(0), True)


def _prefiltered_matches(
    pattern: re.Pattern[str], text: str, lowered: str
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, none when its prefilter rules the text out;
    ``lowered`` is ``text.lower()``."""
    prefilter = cached_prefilter(pattern)
    if prefilter is not None and not prefilter.admits_text(text, lowered=lowered):
        return iter(())
    return pattern.finditer(text)


def _relative_dates(text: str, today: date, end: bool) -> Iterator[tuple[int, FoundDate]]:
    # Most sentences name no weekday or period: the prefilters rule them out first.
    lowered = text.lower()
    for match in _prefiltered_matches(_WEEKDAY_WORD, text, lowered):
        weekday = _WEEKDAYS[_folded(match.group(2))]
        ahead = (weekday - today.weekday() - 1) % 7 + 1  # strictly after today
        yield match.start(), FoundDate(today + timedelta(days=ahead), match.group(0), False)
    for match in _prefiltered_matches(_TOMORROW, text, lowered):
        yield match.start(), FoundDate(today + timedelta(days=1), match.group(0), False)
    for match in _prefiltered_matches(_TODAY, text, lowered):
        yield match.start(), FoundDate(today, match.group(0), False)
    for match in _prefiltered_matches(_WEEK_REF, text, lowered):
        yield match.start(), FoundDate(_week_day(match, today, end), match.group(0), False)
    for match in _prefiltered_matches(_MONTH_REF, text, lowered):
        yield (
            match.start(),
            FoundDate(_month_day(match.group(0), today, end), match.group(0), False),
        )
    for match in _prefiltered_matches(_SPAN, text, lowered):
        amount = _number(match.group(2))
        if amount is None or amount > 365:
            continue
        unit = _folded(match.group(4)).rstrip("s")
        business = bool(match.group(3))
        yield match.start(), FoundDate(_after(today, amount, unit, business), match.group(0), False)


def _week_day(match: re.Match[str], today: date, end: bool) -> date:
    words = match.group(0).lower()
    monday = today - timedelta(days=today.weekday())
    if "next" in words or "coming" in words:
        monday += timedelta(days=7)
    if "early" in words:
        chosen = monday + timedelta(days=1)
    elif "end of" in words or "later" in words or end:
        chosen = monday + timedelta(days=4)
    else:
        chosen = monday
    return max(chosen, today)


def _month_day(words: str, today: date, end: bool) -> date:
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    if "next" in words.lower():
        if not end:
            return first_next
        return (first_next + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first_next - timedelta(days=1)


def _folded(word: str) -> str:
    """A matched word as the lookup tables spell it. Case-insensitive matching
    also accepts letters that only fold to ASCII (the long s for s, the
    Kelvin sign for k), which lower() leaves alone."""
    return word.casefold()


def _after(today: date, amount: int, unit: str, business: bool) -> date:
    if unit == "week":
        return today + timedelta(weeks=amount)
    if unit == "month":
        return today + timedelta(days=30 * amount)
    if not business:
        return today + timedelta(days=amount)
    day, left = today, amount
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def _number(words: str) -> int | None:
    words = re.sub(r"\s+", " ", words.strip().lower())
    if words.isdigit():
        return int(words)
    return _NUMBER_WORDS.get(words)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _plausible(day: date, today: date) -> bool:
    return today.year - 1 <= day.year <= today.year + 2


def _next_day_of_month(today: date, number: int) -> date | None:
    for offset in range(0, 3):
        month_index = today.month - 1 + offset
        candidate = _safe_date(today.year + month_index // 12, month_index % 12 + 1, number)
        if candidate and candidate >= today:
            return candidate
    return None
