"""Text signals for the classifier: quoted-text stripping, sentences, dates.

Pure helpers over decoded snippets. Dates are read relative to a reference
datetime (the message's own Date, in its own offset); no clock is consulted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    for match in _ATTRIBUTION.finditer(text):
        if re.search(r"\d|@|<", match.group(0)):  # a date or an address: a real attribution
            cut = match.start()
            break
    separator = _SEPARATOR.search(text, 0, cut)
    if separator:
        cut = separator.start()
    for match in _HEADER_FROM.finditer(text, 0, cut):
        following = text[match.end() : match.end() + 400]
        if _HEADER_DATE.search(following):
            cut = min(cut, match.start())
            break
    kept = [line for line in text[:cut].split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


# --------------------------------------------------------------------------- sentences

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n|\n(?=\s*(?:[-•*·]|\d+[.)])\s)")
_SPACES = re.compile(r"\s+")
_ALWAYS = re.compile("")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_CONDITIONAL = re.compile(
    r"(?i)\b(?:if|unless|should (?:you|we|your|there)|in the event|in case|whether|"
    r"provided that|wenn|falls|sofern|si)\b"
)


def sentences(text: str) -> list[str]:
    """Sentences of a plain text; hard-wrapped lines are joined first."""
    chunks = _SENTENCE_BREAK.split(text)
    joined = (_SPACES.sub(" ", chunk).strip() for chunk in chunks if chunk)
    return [chunk for chunk in joined if chunk]


def without_urls(text: str) -> str:
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
    regex engine can then scan for the first literal characters.
    """

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    gates: tuple[re.Pattern[str], ...]

    def __iter__(self) -> Iterator[tuple[str, re.Pattern[str]]]:
        return iter(self.patterns)


def compile_named(pairs: Iterable[tuple[str, str]]) -> PhraseTable:
    """A PhraseTable from (name, pattern) pairs written in lower case; matching ignores case."""
    pairs = tuple(pairs)
    return PhraseTable(
        patterns=tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in pairs),
        gates=tuple(_gate(pattern) for _, pattern in pairs),
    )


def _gate(pattern: str) -> re.Pattern[str]:
    if "(?!" in pattern or "(?<" in pattern:
        return _ALWAYS  # a lookaround could see past the sentence end in flattened text
    return re.compile(pattern.replace(r"\b", ""))


def flatten(text: str) -> str:
    """Lower-cased text on one line: what PhraseTable gates read."""
    return _SPACES.sub(" ", text).lower()


def find_phrase(
    table: PhraseTable,
    text: str,
    *,
    skip_conditional: bool = True,
    split: list[str] | None = None,
    flat: str | None = None,
) -> PhraseHit | None:
    """The first named pattern found in a sentence of ``text``.

    With ``skip_conditional``, a match preceded in its sentence by "if",
    "unless", "should you"... does not count: "If you are not selected for
    this role, ..." is an acknowledgement's caveat, not a rejection.
    ``split`` and ``flat`` pass ``sentences(text)`` and ``flatten(text)``
    when the caller already has them.
    """
    flat = flatten(text) if flat is None else flat
    for (name, pattern), gate in zip(table.patterns, table.gates, strict=True):
        if not gate.search(flat):
            continue  # every sentence is a substring of the flattened text
        split = sentences(text) if split is None else split
        for sentence in split:
            for match in pattern.finditer(sentence):
                if skip_conditional and _CONDITIONAL.search(sentence, 0, match.start()):
                    continue
                return PhraseHit(name, match.group(0), sentence)
    return None


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
_MONTH_DAY = re.compile(rf"(?i)\b({_MONTH})\.?\s+(\d{{1,2}}){_ORDINAL}\b(?!:)(?:,?\s+(\d{{4}})\b)?")
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
    today = reference.date()
    explicit = sorted(_explicit_dates(text, today), key=lambda found: found[0])
    if explicit:
        return explicit[0][1]
    relative = sorted(_relative_dates(text, today, end_of_period), key=lambda found: found[0])
    return relative[0][1] if relative else None


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


def _explicit_dates(text: str, today: date) -> Iterator[tuple[int, FoundDate]]:
    for match in _ISO_DATE.finditer(text):
        day = _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if day and _plausible(day, today):
            yield match.start(), FoundDate(day, match.group(0), True)
    for match in _DAY_MONTH.finditer(text):
        month = _MONTHS[match.group(2).lower()]
        yield from _dated(match, today, int(match.group(1)), month, match.group(3))
    for match in _MONTH_DAY.finditer(text):
        month = _MONTHS[match.group(1).lower()]
        yield from _dated(match, today, int(match.group(2)), month, match.group(3))
    for match in _SLASH_DATE.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12:  # US order (month/day) unless impossible
            first, second = second, first
        yield from _dated(match, today, second, first, match.group(3))
    for match in _DOT_DATE.finditer(text):
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


def _relative_dates(text: str, today: date, end: bool) -> Iterator[tuple[int, FoundDate]]:
    for match in _WEEKDAY_WORD.finditer(text):
        weekday = _WEEKDAYS[match.group(2).lower()]
        ahead = (weekday - today.weekday() - 1) % 7 + 1  # strictly after today
        yield match.start(), FoundDate(today + timedelta(days=ahead), match.group(0), False)
    for match in _TOMORROW.finditer(text):
        yield match.start(), FoundDate(today + timedelta(days=1), match.group(0), False)
    for match in _TODAY.finditer(text):
        yield match.start(), FoundDate(today, match.group(0), False)
    for match in _WEEK_REF.finditer(text):
        yield match.start(), FoundDate(_week_day(match, today, end), match.group(0), False)
    for match in _MONTH_REF.finditer(text):
        yield (
            match.start(),
            FoundDate(_month_day(match.group(0), today, end), match.group(0), False),
        )
    for match in _SPAN.finditer(text):
        amount = _number(match.group(2))
        if amount is None or amount > 365:
            continue
        unit = match.group(4).lower().rstrip("s")
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
