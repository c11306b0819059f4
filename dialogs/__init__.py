"""Conversation logic: one module per dialog, each a transition table and its handlers.

Importing this package registers every dialog in `dialogs.engine.REGISTRY`.
"""

from dialogs import halls, matters, menu  # noqa: F401  (registers the dialogs)
from dialogs.conversation import Conversation
from dialogs.engine import REGISTRY, Dialog, Incoming, Reply, Services, Session

__all__ = ["REGISTRY", "Conversation", "Dialog", "Incoming", "Reply", "Services", "Session"]
