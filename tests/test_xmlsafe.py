"""parse_xml against its reference: the xmltodict-based parser it replaced. Whatever the body,
both refuse it, or both give the same dict (texts stripped, None for an empty element, a dict for
one with children or attributes, a list for a repeated one), so no caller can tell them apart."""

from __future__ import annotations

import time
from xml.parsers.expat import ExpatError

import pytest
import xmltodict
from hypothesis import example, given, settings, strategies as st

from bot.channels import xmlsafe
from bot.channels.xmlsafe import _DECLARATIONS, MalformedXML, _flat_fields, _to_dict, cdata, clean_text, parse_xml

NAMES = ["xml", "ToUserName", "FromUserName", "MsgType", "Content", "Event", "item", "PicList", "a", "x:a", "xmlns", "b-c", "_d.e"]


def reference(body: bytes | str, root: str = "xml") -> dict:
    """parse_xml as it was, on xmltodict."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
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


def outcome(parse, body, root: str = "xml"):
    try:
        return parse(body, root)
    except MalformedXML:
        return MalformedXML


def assert_same(body, root: str = "xml") -> None:
    assert outcome(parse_xml, body, root) == outcome(reference, body, root), body


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


@settings(max_examples=600, deadline=None)
@given(documents(), st.booleans())
@example("<xml><a x='1'>t<b/>u<b>v</b></a><a/><c>  </c><d>\n x \n</d><e><!-- c -->y<!--z-->w</e></xml>", True)
@example("<xml a='1'/>", True)
@example("<xml/>", True)
@example("<xml>text</xml>", True)
@example("<x:xml xmlns:x='u'><x:a>1</x:a></x:xml>", True)
@example("<xml xmlns='u'><a>&lt;&#65;<![CDATA[ ]]></a><?pi x?></xml>", False)
@example("<xml><Content>a\x1d\ufffeb</Content></xml>", True)
@example("<xml><a>1</a><a>2</a><a><b/></a></xml>", True)
def test_any_document_parses_as_xmltodict_did(doc, as_bytes):
    body = doc.encode() if as_bytes else doc
    assert_same(body)
    assert_same(body, root="x:xml")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
@example(b"\xef\xbb\xbf<xml><a>1</a></xml>")
@example(b"<xml><a>\xef\xbf\xbe\xef\xbf\xbf</a><b>\x01</b></xml>")
@example(b"<xml><a>\xc3\x01\xa9</a></xml>")  # not UTF-8, even once the control byte is gone
@example(b"<xml><a>\xed\xa0\x80</a></xml>")  # an encoded surrogate
def test_any_bytes_parse_as_xmltodict_did(body):
    assert_same(body)
    assert_same(b"<xml><Content>" + body + b"</Content></xml>")


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


# The fast path for flat bodies (_flat_fields): the same dict as expat for every body it takes,
# expat for every other, and linear time whatever it is given.

flat_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
blanks = st.sampled_from(["", "", "", " ", "\n", "\r\n", "\t", "\r", "\n  "])
flat_texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.lists(st.sampled_from([" ", "\n", "\r\n", "\r", "\t", "\u3000", "\xa0", "\x85", "<", "&", "&amp;", "<b>x</b>", "]", "]]", "]]>",
                              "<![CDATA[", "]]]]><![CDATA[>", ">", "护照", "😀", "\ufeff", "\x1d", "a"]), max_size=6).map("".join),
)


@st.composite
def flat_values(draw) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(["/>", "></{name}>"]))
    if kind == 1:
        return ">" + draw(st.from_regex(r"[A-Za-z0-9._+\-]{0,12}", fullmatch=True)) + "</{name}>"
    sections = "".join(f"<![CDATA[{cdata(text)}]]>" for text in draw(st.lists(flat_texts, min_size=1, max_size=3)))
    return ">" + sections + "</{name}>"


@st.composite
def flat_documents(draw, distinct: bool = True) -> str:
    names = draw(st.lists(flat_names, min_size=1, max_size=8, unique=distinct))
    parts = ["<xml>"]
    for name in names:
        parts += [draw(blanks), f"<{name}", draw(flat_values()).replace("{name}", name)]
    parts += [draw(blanks), "</xml>", draw(blanks)]
    return "".join(parts)


def expat_fields(text: str) -> dict:
    doc = _to_dict(text)
    assert isinstance(doc, dict) and isinstance(doc["xml"], dict)
    return doc["xml"]


@settings(max_examples=600, deadline=None)
@given(flat_documents(), st.booleans())
@example("<xml><xml>1</xml><xmlns><![CDATA[x]]></xmlns><_d.e-1/></xml>", False)
@example("<xml><a/><b></b><c><![CDATA[]]></c><d><![CDATA[ ]]></d></xml>", True)
@example("<xml>\r\n<Content><![CDATA[ x\r\ny\rz ]]></Content>\n</xml>\n", True)
@example("<xml><a><![CDATA[0\r]]><![CDATA[\n0\r]]><![CDATA[]]><![CDATA[\n]]></a></xml>", True)  # each CR is a line end
@example("<xml><a><![CDATA[]]]]><![CDATA[>]]></a><b><![CDATA[x]]]]]><![CDATA[>]]></b><c><![CDATA[a]]><![CDATA[]]></c><d><![CDATA[1]]]></d><e><![CDATA[]]]]]]></e></xml>", False)
@example("<xml><Content><![CDATA[<a href='x'>&amp;</a> &lt; 😀 我要办护照\n]]></Content><MsgId>1234567890123456</MsgId></xml>", True)
def test_flat_bodies_take_the_fast_path_and_give_expats_dict(doc, as_bytes):
    text = clean_text(doc)
    fields = _flat_fields(text)
    assert fields is not None, doc
    assert fields == expat_fields(text) and list(fields) == list(expat_fields(text)), doc
    body = doc.encode() if as_bytes else doc
    assert_same(body)
    assert_same(body, root="x:xml")


@pytest.fixture
def expat_calls(monkeypatch) -> list:
    calls = []

    def counted(source):
        calls.append(source)
        return _to_dict(source)

    monkeypatch.setattr(xmlsafe, "_to_dict", counted)
    return calls


def test_typical_bodies_skip_expat(expat_calls):
    text_message = ("<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[o6_bmjrPTlm6_2sgVt7hMZOPfL2M]]></FromUserName>"
                    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我要办护照]]></Content>"
                    "<MsgId>1234567890123456</MsgId></xml>")
    assert parse_xml(text_message.encode()) == {"ToUserName": "gh_123", "FromUserName": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "CreateTime": "1700000000",
                                                "MsgType": "text", "Content": "我要办护照", "MsgId": "1234567890123456"}
    envelope = "<xml>\n  <ToUserName><![CDATA[gh_123]]></ToUserName>\n  <Encrypt><![CDATA[" + "A/b+" * 100 + "]]></Encrypt>\n</xml>\n"
    assert parse_xml(envelope) == {"ToUserName": "gh_123", "Encrypt": "A/b+" * 100}
    assert parse_xml("<xml><Content><![CDATA[a\x1db]]></Content><Event/></xml>") == {"Content": "ab", "Event": None}
    assert expat_calls == []


#: Bodies just outside the flat shape, each left to expat; and two refused before either path.
NOT_FLAT = [
    '<?xml version="1.0"?><xml><a>1</a></xml>', " <xml><a>1</a></xml>", "\ufeff<xml><a>1</a></xml>", "<xml/>", "<xml></xml>", "<xml> </xml>",
    "<xml>x</xml>", "<xml>x<a>1</a></xml>", "<xml><a>1</a>x</xml>", '<xml id="1"><a>1</a></xml>', '<xml><a id="1">1</a></xml>',
    "<xml><a>1</a><a>2</a></xml>", "<xml><a><b>1</b></a></xml>", "<xml><a>&amp;</a></xml>", "<xml><a>&#65;</a></xml>",
    "<xml><a><![CDATA[1]]>&lt;</a></xml>", "<xml><a> <![CDATA[1]]></a></xml>", "<xml><a><![CDATA[1]]> </a></xml>",
    "<xml><a>1 2</a></xml>", "<xml><a> </a></xml>", "<xml><a>1</a><!-- c --></xml>", "<xml><?pi x?><a>1</a></xml>", "<xml><a >1</a></xml>",
    "<xml><a>1</a ></xml>", "<xml><a/ ></xml>", "<xml><x:a>1</x:a></xml>", "<xml><护照>1</护照></xml>", "<xml><1a>1</1a></xml>",
    "<xml><a>1</b></xml>", "<xml><a>1</ab></xml>", "<xml><ab>1</a></xml>", "<xml><a><![CDATA[1]]></a></xml><xml/>",
    "<xml><a><![CDATA[1]]></a></xml>junk", "<xml><a><![CDATA[1]></a></xml>",
    "<xml><a><![CDATA[1]]>]]></a></xml>", "<xml><a><![cdata[1]]></a></xml>", "<xml><a>1</a></xml></xml>", "<xml><a>1</a>",
    "<xml><a>1</a></XML>", "<a><b>1</b></a>", "<xml><a>\u3000</a></xml>",
]
REFUSED_BEFORE = ["<!DOCTYPE xml><xml><a>1</a></xml>", "<xml><a><![CDATA[<!ENTITY]]></a></xml>"]


@pytest.mark.parametrize("doc", NOT_FLAT)
def test_other_bodies_go_to_expat(doc, expat_calls):
    assert _flat_fields(clean_text(doc)) is None
    assert outcome(parse_xml, doc.encode()) == outcome(reference, doc.encode())
    assert len(expat_calls) == 1


@pytest.mark.parametrize("doc", REFUSED_BEFORE)
def test_refusals_come_before_the_fast_path(doc, expat_calls):
    with pytest.raises(MalformedXML, match="DTD"):
        parse_xml(doc.encode())
    assert expat_calls == []


@settings(max_examples=400, deadline=None)
@given(flat_documents(distinct=False), st.data())
def test_flat_bodies_changed_anywhere_parse_as_xmltodict_did(doc, data):
    """A flat body with something inserted (or a name repeated): whichever path takes it, the
    dict or the refusal is the reference's."""
    at = data.draw(st.integers(0, len(doc)))
    doc = doc[:at] + data.draw(st.sampled_from(["", "<", ">", "/", "&", "&amp;", "&#65;", " ", "x", '<a x="1"/>', "<b>1</b>", "<!-- c -->",
                                               "]]>", "<![CDATA[", "]]]]><![CDATA[>", "\x1d", "\ufffe", "护照"])) + doc[at:]
    assert_same(doc.encode())
    assert_same(doc)


PATHOLOGICAL = [
    lambda n: "<xml>" + "<a><![CDATA[" * (n // 12) + "</xml>",
    lambda n: "<xml><a><![CDATA[" + "]]>" * (n // 3) + "</a></xml>",
    lambda n: "<xml><a><![CDATA[" + "]" * n + "</a></xml>",
    lambda n: "<xml><a><![CDATA[" + "]]]]><![CDATA[>" * (n // 15) + "</a></xml>",
    lambda n: "<xml><a><![CDATA[" + "]]><![CDATA[" * (n // 12) + "</a></xml>",
    lambda n: "<xml>" + "<a>" * (n // 3) + "</xml>",
    lambda n: "<xml>" + "<a" * (n // 2) + "</xml>",
    lambda n: "<xml><" + "a" * n + "></" + "a" * (n - 1) + "></xml>",
    lambda n: "<xml>" + " " * n + "</xml>",
    lambda n: "<xml>" + " \n" * (n // 2) + "x</xml>",
    lambda n: "<xml>" + "<a>1</a> " * (n // 9) + "</xml>",
    lambda n: "<xml>" + "<a>1</a>" * (n // 8) + "<b></xml>",
    lambda n: "<xml>" + "".join(f"<a{i}>1</a{i}>" for i in range(n // 16)) + "x</xml>",
    lambda n: "<xml><a>" + "1" * n + "</xml>",
    lambda n: "<xml>" + "<a/>" * (n // 4) + "</xml>",
]


@pytest.mark.parametrize("make", PATHOLOGICAL)
def test_fast_path_is_linear_on_hostile_bodies(make):
    """A safety net, not a benchmark: 1 MB of repetitions that make a backtracking regex take
    minutes must take the fast path's regex well under a second."""
    text = make(1_000_000)
    started = time.perf_counter()
    _flat_fields(text)
    assert time.perf_counter() - started < 1.0


# cdata skips clean_text's regex for a printable str: every character it drops must be non-printable.


def test_every_character_clean_text_drops_is_non_printable():
    printable = "".join(c for c in map(chr, range(0x110000)) if c.isprintable())
    assert clean_text(printable) == printable


@settings(max_examples=300, deadline=None)
@given(texts)
@example("护照\ufffe]]>\x1d")
def test_cdata_is_clean_text_with_each_end_marker_split(text):
    assert cdata(text) == clean_text(text).replace("]]>", "]]]]><![CDATA[>")


def test_noncharacters_are_cleaned_from_a_non_ascii_body_too():
    body = "<xml><Content><![CDATA[我要\uffff办\ufffe护照]]></Content><a>\u00e9\uffff</a></xml>"
    assert parse_xml(body.encode()) == parse_xml(body) == {"Content": "我要办护照", "a": "\u00e9"}
    assert_same(body.encode())


# WeChat's text message in its own layout (_TEXT_MESSAGE): one match, the same dict as the flat
# path and expat, whatever the fields hold; anything else in it falls through to them.

@st.composite
def text_messages(draw) -> str:
    def section(value: str) -> str:
        return f"<![CDATA[{cdata(value)}]]>"

    fields = [
        ("ToUserName", section(draw(flat_texts))), ("FromUserName", section(draw(flat_texts))),
        ("CreateTime", draw(st.from_regex(r"[0-9]{1,12}", fullmatch=True))), ("MsgType", section("text")),
        ("Content", section(draw(flat_texts))), ("MsgId", draw(st.from_regex(r"[0-9]{1,20}", fullmatch=True))),
    ]
    parts = ["<xml>"]
    for name, value in fields:
        parts += [draw(blanks), f"<{name}>{value}</{name}>"]
    parts += [draw(blanks), "</xml>", draw(blanks)]
    return "".join(parts)


@settings(max_examples=600, deadline=None)
@given(text_messages(), st.booleans())
@example("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oA]]></FromUserName><CreateTime>1</CreateTime>"
         "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ 我要办护照 ]]></Content><MsgId>2</MsgId></xml>", True)
@example("<xml>\n<ToUserName><![CDATA[]]></ToUserName>\n<FromUserName><![CDATA[ ]]></FromUserName>\n<CreateTime>1</CreateTime>\n"
         "<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[&lt;<b>]]></Content>\n<MsgId>2</MsgId>\n</xml>\n", False)
def test_wechats_text_message_layout_gives_the_flat_paths_dict(doc, as_bytes):
    text = clean_text(doc)
    fields = parse_xml(doc.encode() if as_bytes else doc)
    assert fields == _flat_fields(text) == expat_fields(text), doc
    assert list(fields) == list(expat_fields(text))
    if "]" not in text and "\r" not in text:  # what the layout's one match takes: all of these
        assert xmlsafe._TEXT_MESSAGE.fullmatch(text), doc
