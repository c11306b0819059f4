"""Matter search: what people type -> the 政务服务事项 (or 一件事 bundle) they mean."""

from bot.search.hybrid import CANDIDATES, JUNK, MATTER, OUT_OF_SCOPE, Found, MatterSearch
from bot.search.index import Hit, MatterIndex
from bot.search.lexicon import DEFAULT_LEXICON, Lexicon

__all__ = ["CANDIDATES", "DEFAULT_LEXICON", "JUNK", "MATTER", "OUT_OF_SCOPE", "Found", "Hit", "Lexicon", "MatterIndex", "MatterSearch"]
