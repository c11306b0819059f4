"""Parsing XML that strangers send us, within hard limits, and writing XML that cannot be
broken by what a person typed.

One parser reads all of it: expat, through the standard library's C ElementTree builder, after
our own checks (UTF-8 only, no DTD declarations of any kind, so no entity can be defined, let
alone expanded). The result has the shape wechatpy's parser (xmltodict) gives, so handlers read
the same dicts; building it in C instead of xmltodict's Python SAX callbacks costs a fraction of
the time (bench/RESULTS.md, session 7).
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, XMLParser

# XML 1.0 forbids these; WeChat has been seen to deliver some (e.g. \x1d) inside Content.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Any markup declaration: only CDATA sections and comments may follow "<!". Checked on the text
# as expat reads it, after the control characters are dropped (<!\x01DOCTYPE got past a check
# made before, and a billion laughs cost 200 ms of CPU a request).
_DECLARATIONS = re.compile(r"<!(?!\[CDATA\[|--)")
#: WeChat's deepest messages (SendPicsInfo > PicList > item > PicMd5Sum) are five levels deep.
MAX_DEPTH = 16


class MalformedXML(ValueError):
    """The body is not XML we accept; answer 400."""


def clean_text(text: str) -> str:
    """Drop characters XML cannot carry, so the message still gets through."""
    return _INVALID_XML_CHARS.sub("", text)


def parse_xml(body: bytes | str, root: str = "xml") -> dict:
    """Parse a small XML document into a dict of its root's children, shaped as wechatpy's
    xmltodict gives it (text stripped, empty elements None, repeated ones a list, attributes as
    "@name"), after our own checks: UTF-8 only, no DTD declarations of any kind, and the control
    characters XML cannot carry dropped (WeChat has delivered \\x1d inside Content; expat would
    refuse the whole message)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeError as exc:
        raise MalformedXML("not UTF-8") from exc
    text = clean_text(text)
    if _DECLARATIONS.search(text):
        raise MalformedXML("DTD declarations are not accepted")
    try:
        parser = XMLParser()
        parser.feed(text)
        element = parser.close()
    except (ParseError, ValueError) as exc:
        raise MalformedXML(str(exc)[:100]) from exc
    doc = _value(element, MAX_DEPTH) if element.tag == root else None
    if not isinstance(doc, dict):
        raise MalformedXML(f"no <{root}> element")
    return doc


def _value(element: Element, depth: int):
    """An element as xmltodict represents it: its stripped text (None when empty) when it has
    no children or attributes, else a dict of them (a tag seen twice: a list), with any text
    between the children joined and stripped as "#text"; nested deeper than `depth`: refused."""
    if depth <= 0:
        raise MalformedXML("nested too deep")
    if not len(element) and not element.attrib:
        return (element.text or "").strip() or None
    value: dict = {f"@{name}": v for name, v in element.attrib.items()}
    pieces = [element.text or ""]
    for child in element:
        item = _value(child, depth - 1)
        if child.tag in value:
            seen = value[child.tag]
            if isinstance(seen, list):
                seen.append(item)
            else:
                value[child.tag] = [seen, item]
        else:
            value[child.tag] = item
        pieces.append(child.tail or "")
    text = "".join(pieces).strip()
    if text:
        value["#text"] = text
    return value



def cdata(text: object) -> str:
    """Text safe inside <![CDATA[...]]>: characters XML cannot carry dropped, and a ]]> split
    across two sections (wechatpy writes it as it is, and a person's text could close the
    section and inject XML)."""
    return clean_text(str(text)).replace("]]>", "]]]]><![CDATA[>")
