"""Parsing XML that strangers send us, within hard limits, and writing XML that cannot be
broken by what a person typed."""

from __future__ import annotations

import re
from xml.parsers.expat import ExpatError

import xmltodict

# XML 1.0 forbids these; WeChat has been seen to deliver some (e.g. \x1d) inside Content.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


class MalformedXML(ValueError):
    """The body is not XML we accept; answer 400."""


def clean_text(text: str) -> str:
    """Drop characters XML cannot carry, so the message still gets through."""
    return _INVALID_XML_CHARS.sub("", text)


def parse_xml(body: bytes | str, root: str = "xml") -> dict:
    """Parse a small XML document into a dict of its root's children, as wechatpy does (with
    xmltodict over expat, entities disabled), after our own checks: UTF-8 only, no DTD
    declarations of any kind, and the control characters XML cannot carry dropped (WeChat has
    delivered \\x1d inside Content; expat would refuse the whole message)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeError as exc:
        raise MalformedXML("not UTF-8") from exc
    if _DECLARATIONS.search(text):
        raise MalformedXML("DTD declarations are not accepted")
    try:
        doc = xmltodict.parse(clean_text(text), disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise MalformedXML(str(exc)[:100]) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(root), dict):
        raise MalformedXML(f"no <{root}> element")
    return doc[root]


def cdata(text: object) -> str:
    """Text safe inside <![CDATA[...]]>: characters XML cannot carry dropped, and a ]]> split
    across two sections (wechatpy writes it as it is, and a person's text could close the
    section and inject XML)."""
    return clean_text(str(text)).replace("]]>", "]]]]><![CDATA[>")
