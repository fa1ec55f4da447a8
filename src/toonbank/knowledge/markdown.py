"""Markdown article bodies → plain-text blocks → retrieval chunks.

Parsing is markdown-it-py's (CommonMark plus tables): we only read the text of its inline
tokens, so links keep their words, emphasis and HTML disappear, and list items and table rows
become separate lines. A chunk is a section (a heading and what follows it) cut at block
boundaries to at most ``MAX_CHUNK`` characters; each chunk starts with the article title so
it is understandable (and embeddable) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

MAX_CHUNK = 700
_md = MarkdownIt("commonmark").enable("table")


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    heading: bool = False


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
    return " ".join("".join(parts).split())


def blocks(markdown: str) -> list[Block]:
    """The text blocks of a Markdown document, in order (headings marked)."""
    found: list[Block] = []
    heading = False
    row: list[str] | None = None  # the cells of the table row being read
    for token in _md.parse(markdown):
        if token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            if row and any(row):
                found.append(Block(" | ".join(row)))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(text)
            elif text:
                found.append(Block(text, heading))
        elif token.type in ("fence", "code_block"):
            text = " ".join(token.content.split())
            if text:
                found.append(Block(text))
    return found


def plain_text(markdown: str) -> str:
    """The document as plain text, one block per line."""
    return "\n".join(b.text for b in blocks(markdown))


def chunks(title: str, markdown: str, max_chars: int = MAX_CHUNK) -> list[str]:
    """Retrieval passages of an article: ``"<title>. <section text>"``, at most ``max_chars``
    of section text each (a single longer block is cut at a word boundary)."""
    sections: list[list[str]] = [[]]
    for block in blocks(markdown):
        if block.heading and sections[-1]:
            sections.append([])
        sections[-1].append(block.text)
    passages: list[str] = []
    for section in sections:
        current = ""
        for text in section:
            for piece in _split_long(text, max_chars):
                if current and len(current) + 1 + len(piece) > max_chars:
                    passages.append(current)
                    current = ""
                current = f"{current} {piece}".strip()
        if current:
            passages.append(current)
    if not passages:
        return [title.strip()]
    return [f"{title.strip()}. {p}" for p in passages]


def _split_long(text: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        cut = cut if cut > max_chars // 2 else max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces
