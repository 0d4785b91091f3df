"""XML track logs read as a stream: pyexpat fed in chunks, so memory stays flat however
long the file, and a damaged file keeps what came before the damage.

Entity declarations (a DTD's ``<!ENTITY``: billion laughs, external entities) are
refused before any is expanded; external entities are never fetched. Names are matched
by their local part (``gx:Track`` is ``Track``), as namespaces vary between writers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO

from geoscope_core.evidence.formats.base import TrackError

#: bytes fed to the parser at a time
CHUNK = 1 << 16


class XmlBroken(ValueError):
    """The XML is not well-formed at ``line``, ``column`` (1-based)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def _refuse_entity(name: str, *_args: object) -> None:
    raise TrackError(
        f"the XML declares an entity ({name!r}); track logs have none, and entities are "
        "how XML bombs and external-file reads work: refused"
    )


def local(name: str) -> str:
    """``gx:Track`` -> ``Track``."""
    return name.rpartition(":")[2]


def parser() -> expat.XMLParserType:
    """An expat parser without namespace processing that refuses entity declarations."""
    p = expat.ParserCreate()
    p.buffer_text = True
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.EntityDeclHandler = _refuse_entity
    return p


def feed(p: expat.XMLParserType, stream: BinaryIO) -> Iterator[None]:
    """Feed ``stream`` to ``p`` a chunk at a time, yielding after each chunk (so a caller
    can hand on what the handlers collected). White space before the XML declaration is
    skipped (some writers put it there). Raises :class:`XmlBroken`."""
    first = True
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            if first:
                chunk = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
                if not chunk:
                    continue
                first = False
            p.Parse(chunk, False)
            yield
        p.Parse(b"", True)
        yield
    except expat.ExpatError as e:
        raise XmlBroken(e.lineno, e.offset + 1, expat.errors.messages[e.code]) from e


def iter_elements(
    stream: BinaryIO,
    wanted: frozenset[str],
    starts: frozenset[str] = frozenset(),
    divert: Mapping[str, frozenset[str]] | None = None,
    on_text: Callable[[ET.Element, str, str], None] | None = None,
) -> Iterator[tuple[str, ET.Element]]:
    """``(local name, element)`` of every element whose local name is in ``wanted``, with
    its whole subtree (tags are local names), as soon as it ends; one inside another that
    is wanted comes as part of that one. For a name in ``starts`` an empty element with
    its attributes comes when it opens (its local name prefixed with ``+``). A child
    named in ``divert[parent]`` is not built into the tree: ``on_text(parent, child,
    text)`` gets its text (a gx:Track's 1M <when> as strings, not elements). Only the
    subtree being read is held in memory. Raises :class:`XmlBroken`."""
    p = parser()
    ready: list[tuple[str, ET.Element]] = []
    builder: ET.TreeBuilder | None = None
    stack: list[ET.Element] = []  # the open elements of the subtree being built
    diverted: list = []  # [parent, child name, text parts, depth] while diverting
    divert = divert or {}

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal builder
        tag = local(name)
        if diverted:
            diverted[3] += 1
            return
        if builder is None:
            if tag in starts:
                ready.append(("+" + tag, ET.Element(tag, attrs)))
            if tag not in wanted:
                return
            builder = ET.TreeBuilder()
        elif stack and tag in divert.get(stack[-1].tag, ()):
            diverted[:] = [stack[-1], tag, [], 1]
            return
        stack.append(builder.start(tag, attrs))

    def end(name: str) -> None:
        nonlocal builder
        if diverted:
            diverted[3] -= 1
            if not diverted[3]:
                if on_text is not None:
                    on_text(diverted[0], diverted[1], "".join(diverted[2]))
                diverted.clear()
            return
        if builder is None:
            return
        el = builder.end(local(name))
        stack.pop()
        if not stack:
            builder = None
            ready.append((el.tag, el))

    def data(text: str) -> None:
        if diverted:
            diverted[2].append(text)
        elif builder is not None:
            builder.data(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = data
    for _ in feed(p, stream):
        yield from ready
        ready.clear()
