"""Attachments (blank forms, filled-in samples, images): checked on size, declared type and content,
stored under settings.upload_dir/kb/<article id>/<attachment id>, served as downloads with nosniff."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.config import Settings
from helpdesk.db import new_id
from helpdesk_kb.errors import KbNotFound, KbTooLarge, KbUnsupportedType
from helpdesk_kb.models import AttachmentKind, KbAttachment

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/msword": (_OLE,),
    "application/vnd.ms-excel": (_OLE,),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
}
_EXT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".txt": "text/plain",
}


def type_for_filename(filename: str) -> str | None:
    return _EXT_TYPES.get(Path(filename).suffix.lower())


def safe_filename(name: str) -> str:
    """Keep the name people see (Chinese included) but no path, control characters or quotes."""
    name = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/")))
    name = re.sub(r'[\x00-\x1f\x7f"<>:|?*/]', "_", name).strip(" .")
    return name[:200] or "file"


def content_matches(content_type: str, data: bytes) -> bool:
    """The bytes must look like the declared type, so a page cannot pass itself off as a PNG."""
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if content_type == "text/plain":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return "\x00" not in text
    return data.startswith(_MAGIC.get(content_type, (b"\x00\x00\x00\x00\x00\x00\x00\x00\x00",)))


def check_upload(settings: Settings, filename: str, content_type: str | None, data: bytes) -> str:
    """The accepted content type, or an error: too large, type not allowed, content not of that type."""
    if len(data) > settings.upload_max_bytes:
        raise KbTooLarge(f"the file is larger than {settings.upload_max_bytes // (1024 * 1024)} MiB")
    if not data:
        raise KbUnsupportedType("the file is empty")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if not ctype or ctype == "application/octet-stream":
        ctype = type_for_filename(filename) or ""
    if ctype not in settings.upload_allowed_types:
        raise KbUnsupportedType(f"files of type {ctype or 'unknown'} are not accepted")
    if not content_matches(ctype, data):
        raise KbUnsupportedType(f"the file's content is not {ctype}")
    return ctype


def storage_path(settings: Settings, storage_key: str) -> Path:
    base = (Path(settings.upload_dir) / "kb").resolve()
    path = (base / storage_key).resolve()
    if base not in path.parents:
        raise KbNotFound("no such file")
    return path


async def save_attachment(
    session: AsyncSession,
    settings: Settings,
    *,
    article_id: str,
    filename: str,
    content_type: str | None,
    data: bytes,
    kind: AttachmentKind,
    title: str,
    staff_id: int | None,
    now: object,
) -> KbAttachment:
    ctype = check_upload(settings, filename, content_type, data)
    att_id = new_id()
    key = f"{article_id}/{att_id}"
    path = storage_path(settings, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    row = KbAttachment(
        id=att_id,
        article_id=article_id,
        kind=kind,
        filename=safe_filename(filename),
        title=title[:200],
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        uploaded_by=staff_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def delete_attachment(session: AsyncSession, settings: Settings, attachment: KbAttachment) -> None:
    path = storage_path(settings, attachment.storage_key)
    await session.delete(attachment)
    await session.flush()
    path.unlink(missing_ok=True)


def file_response(settings: Settings, attachment: KbAttachment, inline: bool = False) -> FileResponse:
    """A download: attachment disposition (inline only for raster images), nosniff, sandboxed."""
    path = storage_path(settings, attachment.storage_key)
    if not path.is_file():
        raise KbNotFound("the file is missing from storage")
    disposition = "inline" if inline and attachment.content_type in INLINE_TYPES else "attachment"
    ascii_name = attachment.filename.encode("ascii", "ignore").decode() or "file"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(attachment.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    }
    return FileResponse(path, media_type=attachment.content_type, headers=headers)
