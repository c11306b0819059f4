"""Matter search: what people type -> the 政务服务事项 they mean."""

from bot.search.index import Hit, MatterIndex
from bot.search.lexicon import DEFAULT_LEXICON, Lexicon

__all__ = ["DEFAULT_LEXICON", "Hit", "Lexicon", "MatterIndex"]
