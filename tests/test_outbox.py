"""Packing replies into WeChat-sized messages: the shortcut for answers that fit one message
gives exactly what the full packing gives."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from bot.turn.outbox import _pack_and_cut, pack
from dialogs.engine import Reply

texts = st.text(alphabet="ab 中文\n\t", max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(texts, max_size=5), st.sampled_from([8, 20, 64, 2048]))
def test_the_one_message_shortcut_agrees_with_full_packing(items, limit):
    replies = [Reply(t) for t in items]
    assert pack(replies, limit, 4, "……") == _pack_and_cut(replies, limit, 4, "……")


def test_a_long_answer_is_still_split_and_cut():
    replies = [Reply("\n".join("很长的一行说明" * 10 for _ in range(40)))]
    messages = pack(replies, 2048, 4, "……")
    assert len(messages) == 4 and all(len(m.encode()) <= 2048 for m in messages) and messages[-1].endswith("……")
    assert pack([Reply("  "), Reply("好的")], 2048) == ["好的"]
