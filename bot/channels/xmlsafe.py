"""Parsing XML that strangers send us, within hard limits, and writing XML that cannot be
broken by what a person typed."""

from __future__ import annotations

import re
from xml.parsers.expat import ExpatError, ParserCreate

# XML 1.0 forbids these; WeChat has been seen to deliver some (e.g. \x1d) inside Content.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
# The C0 controls among them in valid UTF-8: single bytes that occur in no multi-byte sequence.
# bytes.translate finds them in a fraction of the regex's time, so a body without any (nearly
# all) skips clean_text.
_INVALID_XML_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))

# The shape of nearly every body WeChat and WeCom send: <xml> holding only simple elements, each
# empty, one or more CDATA sections, or a bare token, with XML whitespace around them. One match
# per child: its name, its sections' contents (from the first's start to the last's end; none may
# hold ]]>) or its token; where no such child starts, the fourth group takes all that is left.
# Quantifiers are possessive and the alternatives begin differently, so there is no backtracking
# but one step back over whitespace that ends the text: linear time whatever the input. Names are
# ASCII; a declaration, attribute, nesting, entity, comment or space inside a tag is left to expat.
_WS = r"[ \t\r\n]"
_SECTION = r"[^\]]*+(?:\](?!\]>)[^\]]*+)*+"
_FLAT_FIELDS = re.compile(
    rf"{_WS}*(?:<([A-Za-z_][A-Za-z0-9_.\-]*+)(?:/>|>"
    rf"(?:<!\[CDATA\[({_SECTION}(?:\]\]><!\[CDATA\[{_SECTION})*+)\]\]>|([A-Za-z0-9._+\-]*+))</\1>)"
    rf"|([\s\S]++)){_WS}*+"
)

# WeChat's text message exactly as it lays it out (the commonest body by far), with only XML
# whitespace between the elements and one CDATA section per text field holding no "]" and no
# CR: one match gives what _flat_fields would (tests/test_xmlsafe.py), in a third of its time.
_TEXT_MESSAGE = re.compile(
    rf"<xml>{_WS}*<ToUserName><!\[CDATA\[([^\]\r]*)\]\]></ToUserName>{_WS}*"
    rf"<FromUserName><!\[CDATA\[([^\]\r]*)\]\]></FromUserName>{_WS}*<CreateTime>([0-9]+)</CreateTime>{_WS}*"
    rf"<MsgType><!\[CDATA\[text\]\]></MsgType>{_WS}*<Content><!\[CDATA\[([^\]\r]*)\]\]></Content>{_WS}*"
    rf"<MsgId>([0-9]+)</MsgId>{_WS}*</xml>{_WS}*"
)


class MalformedXML(ValueError):
    """The body is not XML we accept; answer 400."""


def clean_text(text: str) -> str:
    """Drop characters XML cannot carry, so the message still gets through."""
    return _INVALID_XML_CHARS.sub("", text)


def parse_xml(body: bytes | str, root: str = "xml") -> dict:
    """Parse a small XML document into a dict of its root's children; refuse DTDs.

    The dict is shaped as xmltodict shaped it (the reference, tests/test_xmlsafe.py): an element
    with only text is its text, stripped of surrounding whitespace, or None when empty; one with
    children or attributes a dict (attributes as "@name", its own text as "#text"); an element
    repeated, a list. Comments and processing instructions are ignored. A flat body (nearly all
    of them) is read by one regex pass instead (_flat_fields), after the same checks."""
    try:
        if isinstance(body, bytes):
            text = body.decode("utf-8")
        else:
            text, body = body, body.encode("utf-8")
    except UnicodeError as exc:
        raise MalformedXML("not UTF-8") from exc
    if _DECLARATIONS.search(text):
        raise MalformedXML("DTD declarations are not accepted")
    source: bytes | str = body  # valid UTF-8 from here on
    # Whether clean_text would change the text: its C0 controls are found in the bytes, its two
    # noncharacters in the str (a one-character search, none at all in an ASCII str).
    if len(body.translate(None, _INVALID_XML_BYTES)) != len(body) or "\ufffe" in text or "\uffff" in text:
        source = text = clean_text(text)
    if root == "xml":
        if (m := _TEXT_MESSAGE.fullmatch(text)) is not None:
            to, sender, created, content, msg_id = m.groups()
            return {"ToUserName": to.strip() or None, "FromUserName": sender.strip() or None, "CreateTime": created,
                    "MsgType": "text", "Content": content.strip() or None, "MsgId": msg_id}
        if (fields := _flat_fields(text)) is not None:
            return fields
    try:
        doc = _to_dict(source)
    except (ExpatError, ValueError) as exc:
        raise MalformedXML(str(exc)[:100]) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(root), dict):
        raise MalformedXML(f"no <{root}> element")
    return doc[root]


def _flat_fields(text: str) -> dict | None:
    """The root's children of a flat <xml> body (see _FLAT_FIELDS) exactly as _to_dict gives
    them, in one regex pass in C instead of a Python call per expat event; None for any other
    body, which goes to expat."""
    if not text.startswith("<xml>"):
        return None
    stripped = text.rstrip(" \t\r\n")
    if not stripped.endswith("</xml>"):
        return None
    # Every attempt matches (a child, or all the rest) unless only whitespace is left, which the
    # match before took: the matches tile the root's content, so no fullmatch is needed.
    found = _FLAT_FIELDS.findall(text, 5, len(stripped) - 6)
    if not found or found[-1][3]:
        return None
    fields: dict = {}
    for name, sections, token, _rest in found:
        if sections:
            if "\r" in sections:  # end-of-line handling, which applies inside CDATA too, and
                sections = sections.replace("\r\n", "\n").replace("\r", "\n")  # before joining
            if "]]>" in sections:  # a ]]> written as ]]]]><![CDATA[> (see cdata)
                sections = sections.replace("]]><![CDATA[", "")
            fields[name] = sections.strip() or None
        else:
            fields[name] = token or None
    return fields if len(fields) == len(found) else None  # a repeated name makes a list: expat's


def _to_dict(source: bytes | str) -> dict | None:
    """expat (C) with three small handlers: under half the time of xmltodict.parse, with
    the same expat settings (UTF-8 whatever the document declares, no namespace processing)."""
    stack: list = []
    item: dict | None = None
    data: list[str] = []

    def start(name: str, attrs: list[str]) -> None:
        nonlocal item, data
        stack.append((item, data))
        item = {"@" + attrs[i]: attrs[i + 1] for i in range(0, len(attrs), 2)} if attrs else None
        data = []

    def characters(chunk: str) -> None:
        data.append(chunk)

    def end(name: str) -> None:
        nonlocal item, data
        value = ("".join(data).strip() or None) if data else None
        element = item
        item, data = stack.pop()
        if element is not None:
            if value:
                _add(element, "#text", value)
            value = element
        if item is None:
            item = {name: value}
        else:
            _add(item, name, value)

    parser = ParserCreate("utf-8")
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.EntityDeclHandler = _no_entities  # unreachable past _DECLARATIONS; kept as a second lock
    parser.Parse(source, True)
    return item


def _add(item: dict, key: str, value: object) -> None:
    if key in item:
        old = item[key]
        if isinstance(old, list):
            old.append(value)
        else:
            item[key] = [old, value]
    else:
        item[key] = value


def _no_entities(*_args) -> None:
    raise ValueError("entities are disabled")


def cdata(text: object) -> str:
    """Text safe inside <![CDATA[...]]>: a ]]> in it is split across two sections. Every
    character clean_text drops is non-printable (Cc or Cn), so a printable str (nearly all)
    skips the regex."""
    text = str(text)
    if not text.isprintable():
        text = _INVALID_XML_CHARS.sub("", text)
    return text.replace("]]>", "]]]]><![CDATA[>")
