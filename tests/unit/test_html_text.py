"""core.html_text: HTML -> visible text, read as html.parser reads it.

The reader replaced a ``html.parser.HTMLParser`` subclass; that subclass is
kept below as the reference (tests and bench/parse_equivalence.py compare
the two), so any difference in tokenizing broken markup shows up here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailfollow.core.html_text import (
    BLOCK_ELEMENTS,
    SKIPPED_ELEMENTS,
    VOID_ELEMENTS,
    UnreadableMarkupError,
    html_lines,
    html_to_text,
)

# --------------------------------------------------------------------------- reference


class ReferenceHtmlText(HTMLParser):
    """The reader as first written, on the standard library's HTML parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, list[str]]] = [(0, [])]
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, is_quote, is_skip)
        self.quote = 0
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_ELEMENTS:
            self.new_line()
        if tag in VOID_ELEMENTS:
            return
        class_value = next((value or "" for name, value in reversed(attrs) if name == "class"), "")
        is_quote = tag == "blockquote" or "gmail_quote" in class_value
        is_skip = tag in SKIPPED_ELEMENTS
        self.stack.append((tag, is_quote, is_skip))
        self.quote += is_quote
        self.skip += is_skip
        if is_quote:
            self.new_line()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                for _, is_quote, is_skip in self.stack[index:]:
                    self.quote -= is_quote
                    self.skip -= is_skip
                del self.stack[index:]
                break
        if tag in BLOCK_ELEMENTS:
            self.new_line()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.lines[-1][1].append(data.replace("\n", " "))

    def new_line(self) -> None:
        if self.lines[-1][1]:
            self.lines.append((self.quote, []))
        else:
            self.lines[-1] = (self.quote, [])

    def text(self) -> str:
        rendered = []
        for depth, chunks in self.lines:
            line = "".join(chunks).strip()
            rendered.append(("> " * depth + line) if depth and line else line)
        return "\n".join(rendered)


def reference_html_to_text(markup: str) -> str:
    parser = ReferenceHtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError, IndexError):  # html.parser gives up on "<![foo"
        return re.sub(r"<[^>]*>", " ", markup)
    return parser.text()


# --------------------------------------------------------------------------- the rules


def test_block_elements_start_new_lines_and_inline_ones_do_not() -> None:
    markup = "<div>Hello <b>there</b>,</div><p>second<br>third</p><span>same</span> line"
    assert html_to_text(markup).split("\n") == ["Hello there,", "second", "third", "same line"]


def test_list_items_and_table_cells_are_lines_of_their_own() -> None:
    markup = "<ul><li>one<li>two</ul><table><tr><td>a</td><td>b</td></tr></table>"
    lines = [line for line in html_to_text(markup).split("\n") if line]
    assert lines == ["one", "two", "a", "b"]


def test_character_references_are_decoded_in_text() -> None:
    assert html_to_text("<p>Tom &amp; Jerry&nbsp;&#8212; &lt;3 &eacute;t&eacute;</p>").strip() == (
        "Tom & Jerry\u00a0\u2014 <3 été"
    )


def test_comments_declarations_and_conditional_sections_are_dropped() -> None:
    markup = (
        "<!DOCTYPE html><!-- a <p>comment</p> --><?xml version='1.0'?>"
        "<![if !supportLists]>1.<![endif]> item<![CDATA[ raw ]]>"
    )
    assert html_to_text(markup) == "1. item"


def test_scripts_styles_and_the_head_are_not_text() -> None:
    markup = (
        "<html><head><title>Title</title><style>p { color: red }</style></head>"
        "<body><script>var p = '<p>x</p>';</script><p>Visible</p><noscript>no</noscript></body>"
    )
    assert html_to_text(markup).strip() == "Visible"


def test_an_unclosed_script_hides_everything_after_it() -> None:
    assert html_to_text("<p>before</p><script>var x = 1; <p>after</p>").strip() == "before"


def test_blockquotes_and_gmail_quotes_are_prefixed_per_level() -> None:
    markup = (
        "<p>Sounds good.</p><div class='gmail_quote'>On Monday you wrote:"
        "<blockquote><p>Could you send it?</p></blockquote></div><p>Thanks</p>"
    )
    lines = [line for line in html_to_text(markup).split("\n") if line]
    assert lines == ["Sounds good.", "> On Monday you wrote:", "> > Could you send it?", "Thanks"]


def test_the_last_class_attribute_decides_a_quote_as_html_parser_keeps_it() -> None:
    quoted = html_to_text("<span class=other class='x gmail_quote'>q</span>")
    plain = html_to_text("<span class=gmail_quote class=other>q</span>")
    escaped = html_to_text("<span class='gmail&#95;quote'>q</span>")
    assert (quoted, plain, escaped) == ("> q", "q", "> q")


def test_markup_that_is_not_a_tag_stays_text() -> None:
    assert html_to_text("a < b and c<3 <a b='c>d") == "a < b and c<3 <a b='c>d"
    assert html_to_text("x <a b==c>y</a> z") == "x y z"


def test_an_unreadable_marked_section_falls_back_to_the_tagless_page() -> None:
    markup = "<p>text &amp; more</p><![bogus section]> tail"
    assert html_to_text(markup) == " text &amp; more   tail"


def test_lines_come_one_at_a_time_so_a_reader_can_stop_early() -> None:
    lines = html_lines("<p>one</p><p>two</p><![bogus]>")
    assert next(lines) == "one"
    assert next(lines) == "two"  # the unreadable section further on is not reached yet


def test_an_unreadable_marked_section_raises_when_the_lines_reach_it() -> None:
    lines = html_lines("<p>one</p><![bogus]>")
    assert next(lines) == "one"
    with pytest.raises(UnreadableMarkupError):
        next(lines)


# --------------------------------------------------------------------------- properties

fragments = st.sampled_from(
    [
        "<p>", "</p>", "<div class='gmail_quote'>", "<div class=gmail_quote>", "</div>",
        "<blockquote>", "</blockquote>", "<br>", "<br/>", "<br />", "<td>", "</td>", "<b>",
        "</b>", "<li>", "<ul>", "</ul>", "<table>", "<tr>", "<hr>", "</br>", "<pre>", "<svg>",
        "</svg>", "<head>", "</head>", "<title>t</title>", "<noscript>", "</noscript>",
        "<script>var x = '<p>';</script>", "<style>p {}</style>", "<script>", "</script>",
        "</SCRIPT >", "<style>", "</style>", "<script/>", "&amp;", "&nbsp;", "&#233;", "&#1;",
        "&#10;", "&amp", "&", "&notit;", "&#x41;", "<!-- c -->", "<!-->", "<!--", "-->",
        "<![if x]>", "<![endif]>", "<![CDATA[x]]>", "<![bogus]>", "<![", "<![foo", "]]>", "]>",
        "<!doctype html>", "<!DOCTYPE", "<?php x ?>", "<?", "<!x>", "<!x", "<", ">", "\n",
        "\r", "\t", "  ", "\xa0", "\u200b", "word ", "x", "<a href=http://x/>",
        "<a href=x/ >", "<a b='c>", '<a b="c"d="e">', "<a b==c>", "<input checked/>", "<p/>",
        "<div/>", '<span class="gmail_quote"/>', "<SPAN CLASS='x gmail_quote'>", "</SPAN>",
        "</span>", "<span class='gmail&#95;quote'>", "</ p>", "</p x>", "</>", "</ >", "</3>",
        "<3", "</\u017fcript>", "<p\x0b>", "<p\xa0x>", "<a \x00b>", "<a/b>", "<a / >",
        "<a b = 'c' >", "<a b=c\xa0d>", '<a b="c>', "<a b", "<a", "<a b=", "</a", '<a"b>',
        "<x\t\n\fclass\f=\f'gmail_quote'\f>", "<p\r>", "<br\n/>", "<a b=x'y>", "<a b=`x`>",
        "<a -b=1>", "<a @click=x>", "<a b c d>", "<font face=\"Arial\" size=2>", "</font>",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(fragments, max_size=40))
@example(["<div class=gmail_quote>", "<p>", "quoted", "</div>", "after"])
def test_the_reader_gives_what_the_html_parser_reference_gives(pieces: list[str]) -> None:
    markup = "".join(pieces)
    assert html_to_text(markup) == reference_html_to_text(markup)


MARKUP_WORDS = ["script", "style", "p", "br", "class", "gmail_quote", "blockquote", "if"]
MARKUP_WORDS += ["endif", "CDATA", "doctype", "div", "&amp;", "&#10;", "td", "head"]
markup_characters = st.lists(
    st.sampled_from(
        [
            *"<<<<>>>//!!--[]??==\"\"'' \n\t\x0b\f\r\xa0abpPrstyleciquogm_&;#1x\x00\u017f",
            *MARKUP_WORDS,
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(markup_characters)
def test_character_soup_reads_as_the_html_parser_reference_reads_it(markup: str) -> None:
    assert html_to_text(markup) == reference_html_to_text(markup)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_without_an_error(markup: str) -> None:
    assert isinstance(html_to_text(markup), str)


words = st.text(
    st.characters(blacklist_characters="<>&", blacklist_categories=("Cs",)), max_size=12
)
element_names = st.sampled_from(["p", "div", "span", "b", "a", "td", "li", "blockquote", "font"])


@st.composite
def well_formed_html(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 3 and draw(st.booleans()):
            name = draw(element_names)
            attribute = draw(st.sampled_from(["", " class='x'", ' href="http://a.example/?q=1"']))
            parts.append(f"<{name}{attribute}>{draw(well_formed_html(depth + 1))}</{name}>")
        else:
            parts.append(draw(words))
    return "".join(parts)


@settings(max_examples=200, deadline=None)
@given(well_formed_html())
def test_well_formed_html_leaves_no_markup_in_the_text(markup: str) -> None:
    assert "<" not in html_to_text(markup)
