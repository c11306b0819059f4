"""The admin HTTP API for staff (/admin/api/), described by openapi.yaml beside it."""

from bot.web.admin.api import BROADCASTS, CONSENTS, HANDOFF, OPENAPI, create_admin_api

__all__ = ["BROADCASTS", "CONSENTS", "HANDOFF", "OPENAPI", "create_admin_api"]
