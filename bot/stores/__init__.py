"""Where shared state lives: the conversation-state port and its implementations, and the lease.

- `conversation`: the `ConversationStore` protocol and the values it speaks in.
- `redis`: the production store (every script a turn runs, the pipelined connection).
- `memory`: the same promises in one process, for dialog tests.
- `lease`: one owner at a time for a key, renewed and released by that owner only.
"""

from bot.stores.conversation import (
    KEEP, NOTHING, Admission, Answer, ConversationStore, MessageRef, Nonce, Snapshot, StorePolicy, Tally, turn_tallies,
)
from bot.stores.lease import Lease
from bot.stores.memory import MemoryConversationStore
from bot.stores.redis import RedisConversationStore

__all__ = [
    "KEEP", "NOTHING", "Admission", "Answer", "ConversationStore", "Lease", "MemoryConversationStore", "MessageRef", "Nonce",
    "RedisConversationStore", "Snapshot", "StorePolicy", "Tally", "turn_tallies",
]
