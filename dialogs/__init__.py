"""Conversation logic: one module per dialog, each a transition table and its handlers.

Importing this package registers every dialog: citizens' in `dialogs.engine.CITIZEN_DIALOGS`,
staff's (dialogs/staff.py) in `dialogs.engine.STAFF_DIALOGS`.
"""

from dialogs import appointments, booking, bundles, halls, matters, menu  # noqa: F401  (registers the dialogs)
from dialogs import desk, enterprise, licences, policies, privacy, progress, queue, rating, subscriptions  # noqa: F401  (progress, 取号, subscriptions, 企业服务, 我的证照, 政策推送与授权, 个人信息, 好差评)
from dialogs import handoff, staff  # noqa: F401  (hand-off to a person; the staff desk in WeCom)
from dialogs.conversation import Conversation
from dialogs.engine import CITIZEN_DIALOGS, STAFF_DIALOGS, Dialog, Incoming, Reply, Services, Session

__all__ = ["CITIZEN_DIALOGS", "STAFF_DIALOGS", "Conversation", "Dialog", "Incoming", "Reply", "Services", "Session"]
