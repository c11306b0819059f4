"""XML from strangers: whatever the body, parse_xml gives a dict or refuses it with MalformedXML
(never another exception, which would be a 500); DTDs and entities are refused; what we write
inside CDATA reads back as the person typed it, whatever they typed."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings, strategies as st

from bot.web.channels.xmlsafe import MalformedXML, cdata, clean_text, parse_xml

NAMES = ["xml", "ToUserName", "FromUserName", "MsgType", "Content", "Event", "item", "PicList", "a", "x:a", "xmlns", "b-c", "_d.e"]


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


#: Mostly well-formed text (so the dicts get compared), now and then something that is not.
texts = st.lists(st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8).map(_escaped),
    st.sampled_from([" ", "\n", "\r\n", "\t", "\u3000", "&lt;", "&amp;", "&#65;", "<![CDATA[ a ]]>", "<![CDATA[]]>", "<![CDATA[<b>]]>",
                     "<!-- c -->", "<?pi x?>", "\x1d", "\x00", "\ufffe", "\uffff", "护照", "😀", "\ufeff"]),
), max_size=6).map("".join)
bad_texts = st.sampled_from(["&#x1d;", "&bogus;", "]]>", "<", "&", "<!DOCTYPE x>", "<!ENTITY"])


@st.composite
def elements(draw, depth: int = 0) -> str:
    name = draw(st.sampled_from(NAMES)) if depth else draw(st.sampled_from(["xml", "xml", "xml", "x:xml", "a"]))
    attrs = draw(st.dictionaries(st.sampled_from(["id", "x:y", "xmlns", "xmlns:x", "a"]), st.text(st.characters(exclude_categories=("Cs",)), max_size=5), max_size=2))
    attr_text = "".join(f' {k}="{_escaped(clean_text(v))}"' for k, v in attrs.items())
    if draw(st.integers(0, 5)) == 0:
        return f"<{name}{attr_text}/>"
    parts = [draw(texts)]
    if depth < 3:
        for child in draw(st.lists(elements(depth + 1), max_size=4)):
            parts += [child, draw(texts)]
    if draw(st.integers(0, 80)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(bad_texts))
    return f"<{name}{attr_text}>{''.join(parts)}</{name}>"


@st.composite
def documents(draw) -> str:
    prolog = draw(st.sampled_from(["", "\ufeff", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="GBK"?>\n', "<!-- hi -->", " "]))
    return prolog + draw(elements()) + draw(st.sampled_from(["", "", "", "\n", "<!-- bye -->", "<xml/>", "junk"]))


def parses_or_refuses(body, root: str = "xml"):
    try:
        result = parse_xml(body, root)
    except MalformedXML:
        return MalformedXML
    assert isinstance(result, dict)
    return result


@pytest.mark.slow  # long fuzzing
@settings(max_examples=400, deadline=None)
@given(documents(), st.booleans())
@example("<xml><a x='1'>t<b/>u<b>v</b></a><a/><c>  </c><d>\n x \n</d><e><!-- c -->y<!--z-->w</e></xml>", True)
@example("<xml xmlns='u'><a>&lt;&#65;<![CDATA[ ]]></a><?pi x?></xml>", False)
@example("<xml><Content>a\x1d\ufffeb</Content></xml>", True)
def test_any_document_parses_or_is_refused(doc, as_bytes):
    body = doc.encode() if as_bytes else doc
    parses_or_refuses(body)
    parses_or_refuses(body, root="x:xml")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
@example(b"\xef\xbb\xbf<xml><a>1</a></xml>")
@example(b"<xml><a>\xc3\x01\xa9</a></xml>")  # not UTF-8, even once the control byte is gone
@example(b"<xml><a>\xed\xa0\x80</a></xml>")  # an encoded surrogate
def test_any_bytes_parse_or_are_refused(body):
    parses_or_refuses(body)
    parses_or_refuses(b"<xml><Content>" + body + b"</Content></xml>")


def test_shapes_callers_rely_on():
    event = parse_xml(b"<xml><MsgType>event</MsgType><Event><![CDATA[scancode_push]]></Event><Content></Content>"
                      b"<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult> 1 </ScanResult></ScanCodeInfo>"
                      b"<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item><item><PicMd5Sum>b</PicMd5Sum></item></PicList></SendPicsInfo></xml>")
    assert event == {"MsgType": "event", "Event": "scancode_push", "Content": None, "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1"},
                     "SendPicsInfo": {"Count": "2", "PicList": {"item": [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]}}}
    assert parse_xml("<xml><Content><![CDATA[ 我要\x1d办护照 ]]></Content></xml>") == {"Content": "我要办护照"}


def test_no_dtd_no_entities_clear_refusals():
    for body in (b"<!DOCTYPE xml><xml/>", b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>', b"<xml><a>&e;</a></xml>",
                 b"<xml><a></xml>", b"", b"<other><a>1</a></other>", b"\xff<xml/>", "<xml><a>\ud800</a></xml>"):
        try:
            parse_xml(body)
        except MalformedXML as exc:
            assert str(exc)
        else:
            raise AssertionError(body)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
@example("护照\ufffe]]>\x1d")
@example("]]><MsgType>event</MsgType><![CDATA[")
def test_whatever_a_person_typed_reads_back_from_cdata_as_they_typed_it(text):
    body = f"<xml><Content><![CDATA[{cdata(text)}]]></Content><MsgType>text</MsgType></xml>"
    fields = parse_xml(body)
    assert fields["MsgType"] == "text"  # nothing the text held became markup
    as_read = clean_text(text).replace("\r\n", "\n").replace("\r", "\n")  # XML reads every line end as \n
    assert fields["Content"] == (as_read.strip() or None)


def test_noncharacters_are_cleaned_from_a_non_ascii_body_too():
    body = "<xml><Content><![CDATA[我要\uffff办\ufffe护照]]></Content><a>\u00e9\uffff</a></xml>"
    assert parse_xml(body.encode()) == parse_xml(body) == {"Content": "我要办护照", "a": "\u00e9"}


@settings(max_examples=300, deadline=None)
@given(documents())
@example("<xml><a x='1'>t<b/>u<b>v</b></a><a/><c>  </c><d>\n x \n</d><e><!-- c -->y<!--z-->w</e></xml>")
@example("<xml><a> 0 <b/> 0 </a></xml>")  # text between children: joined, then stripped
def test_handlers_read_the_same_dicts_wechatpy_would_give_them(doc):
    """parse_xml builds in C what wechatpy's xmltodict builds in Python: for every document
    without namespaces (which WeChat never sends; we refuse an unbound prefix), the same dict,
    or both refuse."""
    if "xmlns" in doc or ":" in re.sub(r"^\s*<\?xml[^>]*\?>", "", doc):  # a prefix anywhere after the declaration
        return
    import xmltodict
    from xml.parsers.expat import ExpatError

    ours = parses_or_refuses(doc)
    try:
        theirs = xmltodict.parse(clean_text(doc), disable_entities=True).get("xml", MalformedXML)
    except (ExpatError, ValueError, AttributeError):
        theirs = MalformedXML
    if "<!" in doc.replace("<![CDATA[", "").replace("<!--", ""):
        theirs = MalformedXML  # declarations: refused by both (ours before parsing)
    assert ours == (theirs if isinstance(theirs, dict) else MalformedXML)
