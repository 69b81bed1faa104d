"""HTML -> visible text, one line at a time, for message snippets.

A small hand-written reader: it finds the markup with a few regular
expressions and keeps only what a snippet needs (text, line breaks, quote
depth). It tokenizes the way Python's ``html.parser`` (3.11) does, including
its tolerance for broken markup, so that snippets read the same as they did
when that parser was used; it is several times faster because it does not
build attribute lists for every tag.

Rules for the text:

- ``script``, ``style``, ``head``, ``title``, ``noscript``, ``template`` and
  ``svg`` content is dropped; ``script``/``style`` content is raw text up to
  the matching end tag (nothing after an unclosed one is read);
- block elements (``p``, ``div``, ``br``, ``li``, ``td``...) start a new line;
- text inside ``<blockquote>`` or an element whose class mentions
  ``gmail_quote`` is prefixed with ``> `` per level;
- comments, declarations, processing instructions and marked sections
  (``<![if mso]>``, ``<![CDATA[...]]>``) are dropped; character references
  are decoded in text (``html.unescape``);
- markup that cannot be read as a tag is kept as text, as ``html.parser`` keeps it.

A marked section with a name ``html.parser`` does not know (``<![foo``)
makes the whole document fall back to its text with every ``<...>`` replaced
by a space (``UnreadableMarkupError`` from ``html_lines``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

SKIPPED_ELEMENTS = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
BLOCK_ELEMENTS = frozenset(
    {
        "p", "div", "br", "tr", "li", "ul", "ol", "table", "blockquote", "hr", "pre",
        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
        "dd", "dt", "dl", "address", "center", "form", "fieldset", "td",
    }
)  # fmt: skip
VOID_ELEMENTS = frozenset(
    {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"}
)
_RAW_TEXT_ELEMENTS = ("script", "style")  # their content is not markup


class UnreadableMarkupError(ValueError):
    """A marked section whose name is not TEMP, CDATA, IGNORE, INCLUDE, RCDATA,
    IF, ELSE or ENDIF; ``html.parser`` gives up on those."""


# --- Tags in their common shape, read with one match: a start tag (1: name,
# 2: attributes, 3: "/" if self-closing) whose attributes are plain names, each
# with an optional quoted or bare value, after ASCII whitespace; or an end tag
# (4: name). Possessive quantifiers keep the one reading html.parser gives such
# a tag. Other markup goes to _read_odd_markup.
_TAG = re.compile(
    r"<(?:([a-zA-Z][^\t\n\r\f />\x00]*+)"
    r"((?:[ \t\n\r\f]++[a-zA-Z_:][-a-zA-Z0-9_:.]*+"
    r"(?:[ \t\n\r\f]*+=[ \t\n\r\f]*+(?:\"[^\"]*+\"|'[^']*+'|[^\s\"'=>][^\s>]*+))?+)*+)"
    r"[ \t\n\r\f]*+(/?)>"
    r"|/\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>)"
)
_CLASS = re.compile("class", re.IGNORECASE)
_GAP = re.compile(r"(?:\s|/(?!>))*")  # what html.parser skips before an attribute
# html.parser's tolerant rules for any other start tag: where it ends, its name,
# and its attributes (a name may start with a quote or "=", values may be bare).
_START_TAG_EXTENT = re.compile(
    r"""<[a-zA-Z][^\t\n\r\f />\x00]*
    (?:[\s/]*
        (?:(?<=['"\s/])[^\s/>][^\s/=>]*
            (?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?
            (?:\s|/(?!>))*
        )*
    )?
    \s*""",
    re.VERBOSE,
)
_TAG_NAME = re.compile(r"([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(
    r"""((?<=['"\s/])[^\s/>][^\s/=>]*)
    (\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?
    (?:\s|/(?!>))*""",
    re.VERBOSE,
)
_INCOMPLETE_AFTER_TAG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=/")

# --- Other markup.
_END_TAG = re.compile(r"</\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>")
_COMMENT_END = re.compile(r"--\s*>")
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*\s*")
_SECTION_END = re.compile(r"]\s*]\s*>")  # <![CDATA[ ... ]]>
_MS_SECTION_END = re.compile(r"]\s*>")  # <![if ...]> and <![endif]>, from MS Office
_SECTION_NAMES = frozenset({"temp", "cdata", "ignore", "include", "rcdata"})
_MS_SECTION_NAMES = frozenset({"if", "else", "endif"})
_RAW_TEXT_END = {
    name: re.compile(rf"</\s*{name}\s*>", re.IGNORECASE) for name in ("script", "style")
}
_ANY_TAG = re.compile(r"<[^>]*>")
_INCOMPLETE = -1

# What an element does, as bits: starts a line, has no content (no end tag), hides
# its text, quotes its text (blockquote, or a gmail_quote class), holds raw text
# (script, style).
_BLOCK, _VOID, _HIDES, _QUOTES, _RAW = 1, 2, 4, 8, 16
_KINDS: dict[str, int] = {}
for _name in BLOCK_ELEMENTS | VOID_ELEMENTS | SKIPPED_ELEMENTS | {"blockquote"}:
    _KINDS[_name] = (
        (_BLOCK if _name in BLOCK_ELEMENTS else 0)
        | (_VOID if _name in VOID_ELEMENTS else 0)
        | (_HIDES if _name in SKIPPED_ELEMENTS else 0)
        | (_QUOTES if _name == "blockquote" else 0)
        | (_RAW if _name in _RAW_TEXT_END else 0)
    )
del _name


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document; quoted blocks get a ``> `` prefix."""
    try:
        return "\n".join(html_lines(markup))
    except UnreadableMarkupError:
        return _ANY_TAG.sub(" ", markup)


def html_lines(markup: str) -> Iterator[str]:
    """The lines of ``html_to_text(markup)``, each given as soon as it is complete.

    A caller that needs only the start of the text stops iterating; lines
    already given never change. Raises ``UnreadableMarkupError`` where the
    document cannot be read (see the module docstring).

    This loop runs once per tag of every HTML snippet the sync reads, so it
    keeps its state in local variables and leaves rare markup to helpers.
    """
    end = len(markup)
    find = markup.find
    match_tag = _TAG.match
    chunks: list[str] = []  # the text of the line being filled
    depth = 0  # its quote depth
    names: list[str] = []  # the open elements
    flags: list[int] = []  # per open element: 1 if it quotes, 2 if it hides its text
    quote = hidden = 0  # how many open elements quote / hide their text
    position = 0
    while True:
        less = find("<", position)
        if less != position:  # text first
            if less < 0:
                less = end
            if not hidden and less > position:
                text = markup[position:less]
                if "&" in text:
                    text = unescape(text)
                chunks.append(text.replace("\n", " ") if "\n" in text else text)
            if less == end:
                break
            position = less
        tag = match_tag(markup, position)
        if tag is not None:
            name, attributes, closing, end_name = tag.groups()
            position = tag.end()
        else:
            name, attributes, closing, end_name, odd_text, position = _read_odd_markup(
                markup, position
            )
            if odd_text is not None and not hidden:
                chunks.append(odd_text)
        if end_name is not None:
            end_name = end_name.lower()
            if names and names[-1] == end_name:  # the usual case: the last one opened
                del names[-1]
                flag = flags.pop()
                quote -= flag & 1
                hidden -= flag >> 1
            elif end_name in names:  # it closes the ones opened after it too
                index = len(names) - 1 - names[::-1].index(end_name)
                for flag in flags[index:]:
                    quote -= flag & 1
                    hidden -= flag >> 1
                del names[index:], flags[index:]
            if _KINDS.get(end_name, 0) & _BLOCK:
                if chunks:
                    yield _render(depth, chunks)
                    chunks = []
                depth = quote
            continue
        if name is None:
            continue
        name = name.lower()
        kind = _KINDS.get(name, 0)
        if (
            attributes
            and ("gmail_quote" in attributes or ("&" in attributes and _CLASS.search(attributes)))
            and not kind & _VOID
            and _has_quote_class(attributes)
        ):
            kind |= _QUOTES
        if not kind:  # most tags: an inline element to keep track of
            if not closing:
                names.append(name)
                flags.append(0)
            continue
        if kind & _BLOCK:
            if chunks:
                yield _render(depth, chunks)
                chunks = []
            depth = quote
        if kind & _VOID:
            continue  # never open, so its end tag (for "<br/>") closes nothing
        flag = 2 if kind & _HIDES else 0
        if kind & _QUOTES:
            flag |= 1
            quote += 1
            if chunks:
                yield _render(depth, chunks)
                chunks = []
            depth = quote
        if closing or kind & _RAW:  # closed at once: "<tag/>", or script/style raw text
            quote -= flag & 1
            if closing:
                if kind & _BLOCK:  # the end tag's line break: nothing left to finish
                    depth = quote
                continue
            position = _raw_text_end(markup, position, name)
            if position == _INCOMPLETE:
                break  # html.parser drops what follows an unclosed script or style
            continue
        names.append(name)
        flags.append(flag)
        hidden += flag >> 1
    yield _render(depth, chunks)


def _text(raw: str) -> str:
    """Text between tags as html.parser hands it over, with line breaks as spaces."""
    if "&" in raw:
        raw = unescape(raw)
    return raw.replace("\n", " ") if "\n" in raw else raw


def _render(depth: int, chunks: list[str]) -> str:
    line = "".join(chunks).strip()
    return ("> " * depth + line) if depth and line else line


def _has_quote_class(attributes: str) -> bool:
    """Whether the class attribute (the last one, as a dict of them would keep) says
    gmail_quote. ``attributes`` is what follows the tag name, from its last character."""
    position = _GAP.match(attributes, 1).end()  # type: ignore[union-attr]  # matches ""
    value: str | None = ""
    while position < len(attributes):
        attribute = _ATTRIBUTE.match(attributes, position)
        if attribute is None:
            break
        if attribute.group(1).lower() == "class":
            value = _attribute_value(attribute.group(2), attribute.group(3))
        position = attribute.end()
    return "gmail_quote" in (value or "")


def _attribute_value(assignment: str | None, value: str) -> str | None:
    if not assignment:
        return None
    if value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
        value = value[1:-1]
    return unescape(value) if value else value


_OddMarkup = tuple[str | None, str, bool, str | None, str | None, int]


def _read_odd_markup(markup: str, position: int) -> _OddMarkup:
    """Markup at ``position`` (a "<") that ``_TAG`` did not match, read by
    html.parser's rules, as (start tag name, its attributes, self-closing,
    end tag name, text, where it ends). Unfinished markup is text up to the
    next ">" (or "<"), as html.parser reads it at the end of its input."""
    following = markup[position + 1 : position + 2]
    after = _INCOMPLETE
    if not following:
        return None, "", False, None, "<", position + 1  # a "<" at the very end
    if "a" <= following <= "z" or "A" <= following <= "Z":
        after = _start_tag_end(markup, position)
        if after != _INCOMPLETE:
            return _odd_start_tag(markup, position, after)
    elif following == "/":
        name, after = _read_odd_end_tag(markup, position)
        if after != _INCOMPLETE:
            return None, "", False, name or None, None, after
    elif following in "!?":
        after = _skip_declaration(markup, position, following)
        if after != _INCOMPLETE:
            return None, "", False, None, None, after
    else:  # "<" before anything else is text
        return None, "", False, None, "<", position + 1
    after = _incomplete_end(markup, position)
    return None, "", False, None, _text(markup[position:after]), after


def _odd_start_tag(markup: str, position: int, after: int) -> _OddMarkup:
    name = _TAG_NAME.match(markup, position + 1)
    if name is None:  # cannot happen after "<" and a letter
        return None, "", False, None, None, after
    cursor = name.end()
    while cursor < after:
        attribute = _ATTRIBUTE.match(markup, cursor)
        if attribute is None:
            break
        cursor = attribute.end()
    closing = markup[cursor:after].strip()
    if closing not in (">", "/>"):  # not a tag after all: html.parser keeps it as is
        return None, "", False, None, markup[position:after].replace("\n", " "), after
    attributes = markup[name.end(1) - 1 : after]
    return name.group(1), attributes, closing == "/>", None, None, after


def _start_tag_end(markup: str, position: int) -> int:
    extent = _START_TAG_EXTENT.match(markup, position)
    if extent is None:  # cannot happen after "<" and a letter
        return position + 1
    after = extent.end()
    following = markup[after : after + 1]
    if following == ">":
        return after + 1
    if following == "/":
        return after + 2 if markup.startswith("/>", after) else _INCOMPLETE
    if not following or following in _INCOMPLETE_AFTER_TAG:
        return _INCOMPLETE
    return after if after > position else position + 1


def _read_odd_end_tag(markup: str, position: int) -> tuple[str, int]:
    """An end tag ``_END_TAG`` does not match: (name or "" if it is ignored, end)."""
    greater = markup.find(">", position + 1)
    if greater < 0:
        return "", _INCOMPLETE
    name = _TAG_NAME.match(markup, position + 2)
    if name is None:
        if markup.startswith("</>", position):
            return "", position + 3
        return "", greater + 1  # a bogus comment
    return name.group(1).lower(), markup.find(">", name.end()) + 1


def _skip_declaration(markup: str, position: int, following: str) -> int:
    """The end of the comment, declaration, marked section ("<!") or processing
    instruction ("<?") at ``position``, or ``_INCOMPLETE``."""
    if following == "!":
        if markup.startswith("<!--", position):
            close = _COMMENT_END.search(markup, position + 4)
            return close.end() if close is not None else _INCOMPLETE
        if markup.startswith("<![", position):
            return _marked_section_end(markup, position)
        if markup[position : position + 9].lower() == "<!doctype":
            greater = markup.find(">", position + 9)
        else:
            greater = markup.find(">", position + 2)
        return greater + 1 if greater >= 0 else _INCOMPLETE
    greater = markup.find(">", position + 2)
    return greater + 1 if greater >= 0 else _INCOMPLETE


def _marked_section_end(markup: str, position: int) -> int:
    if position + 3 == len(markup):
        return _INCOMPLETE
    name = _SECTION_NAME.match(markup, position + 3)
    if name is None:
        raise UnreadableMarkupError(markup[position : position + 20])
    if name.end() == len(markup):
        return _INCOMPLETE
    keyword = name.group().strip().lower()
    if keyword in _SECTION_NAMES:
        close = _SECTION_END.search(markup, position + 3)
    elif keyword in _MS_SECTION_NAMES:
        close = _MS_SECTION_END.search(markup, position + 3)
    else:
        raise UnreadableMarkupError(markup[position : position + 20])
    return close.end() if close is not None else _INCOMPLETE


def _incomplete_end(markup: str, position: int) -> int:
    """Where text ends that html.parser reads when markup at ``position`` never ends:
    through the next ">", else up to the next "<", else the "<" alone."""
    greater = markup.find(">", position + 1)
    if greater >= 0:
        return greater + 1
    less = markup.find("<", position + 1)
    return less if less >= 0 else position + 1


def _raw_text_end(markup: str, position: int, tag: str) -> int:
    """The end of the end tag that closes raw text (script/style) opened before
    ``position``, or ``_INCOMPLETE``. An end tag html.parser does not take as one
    (non-ASCII letters matching the name case-insensitively) is skipped as text."""
    pattern = _RAW_TEXT_END[tag]
    while True:
        close = pattern.search(markup, position)
        if close is None:
            return _INCOMPLETE
        if _END_TAG.match(markup, close.start()) is not None:
            return close.end()
        position = close.end()
