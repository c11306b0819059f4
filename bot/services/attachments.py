"""Photos and files people send in chat (a 补正 material, a picture for an agent): fetched from
WeChat or WeCom by their media_id, and judged before anything is kept.

The size is checked while the file is read (nothing beyond the platform's limit is read at all),
then the type by the content's own signature (integrations.platform.media, the rules the platform
itself applies), never by a declared type or a file name. Only a file that passes both leaves
here; the bytes live in memory for the turn and are never logged or written anywhere.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from dialogs.ports import AttachmentRefused
from integrations.platform.media import MAX_BYTES, sniff
from integrations.wechat.errors import MediaGone, MediaTooLarge, WeChatError

log = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


@dataclass(frozen=True, slots=True)
class Attachment:
    content: bytes
    media_type: str  # sniffed: image/jpeg, image/png or application/pdf
    sha256: str

    @property
    def filename(self) -> str:
        """A neutral name for passing it on (the sender's own file name may say who they are)."""
        return {"image/jpeg": "photo.jpg", "image/png": "photo.png"}.get(self.media_type, "document.pdf")


class Attachments:
    """Fetches media through one API client (integrations.wechat.WeChatClient or WeComClient)."""

    def __init__(self, client: Any, max_bytes: int = MAX_BYTES):
        self.client, self.max_bytes = client, max_bytes

    async def fetch(self, media_id: str, *, images_only: bool = False) -> Attachment:
        if self.client is None:
            raise AttachmentRefused("unavailable")
        try:
            media = await self.client.get_media(media_id, self.max_bytes)
        except MediaTooLarge:
            raise AttachmentRefused("too_large") from None
        except MediaGone:
            raise AttachmentRefused("gone") from None
        except WeChatError as error:
            log.warning("could not fetch a media file: %s", type(error).__name__)
            raise AttachmentRefused("unavailable") from None
        if not media.content:
            raise AttachmentRefused("gone")
        media_type = sniff(media.content)
        if media_type is None or (images_only and media_type not in IMAGE_TYPES):
            raise AttachmentRefused("wrong_type")
        return Attachment(media.content, media_type, hashlib.sha256(media.content).hexdigest())
