"""Uploaded files: size-limited streaming to disk, type decided from the bytes (not the name or the
client's header), served only as downloads that a browser will never run."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import filetype
from fastapi import UploadFile
from fastapi.responses import FileResponse

from helpdesk.errors import BadRequest, PayloadTooLarge, UnsupportedType

CHUNK = 64 * 1024
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
}
INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
# Formats filetype cannot tell apart from their container: old Office files are OLE2 containers.
OLE2_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
OLE2_BY_EXT = {".doc": "application/msword", ".xls": "application/vnd.ms-excel"}
DOCX_BY_EXT = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class StoredFile:
    storage_key: str
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(name: str | None) -> str:
    name = unicodedata.normalize("NFC", os.path.basename(name or "").strip()) or "file"
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", name)
    return name[:200]


def sniff_type(head: bytes, filename: str) -> str | None:
    """The content type the bytes show, or None when they are not an allowed kind."""
    ext = os.path.splitext(filename)[1].lower()
    if head.startswith(OLE2_MAGIC):
        return OLE2_BY_EXT.get(ext)
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime == "application/zip":
            return DOCX_BY_EXT.get(ext)
        return str(kind.mime)
    if ext == ".txt":
        try:  # the head may end inside a character: only invalid bytes refuse it
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


async def save_upload(upload: UploadFile, root: Path, subdir: str, *, max_bytes: int,
                      allowed_types: list[str]) -> StoredFile:
    """Streams to a temp file, refusing past max_bytes, then checks the type and moves it in place."""
    filename = clean_filename(upload.filename)
    target_dir = root / subdir
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"file is larger than {max_bytes // (1024 * 1024)} MiB")
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise BadRequest("file is empty", code="empty_file")
        content_type = sniff_type(head, filename)
        if content_type is None or content_type not in allowed_types:
            raise UnsupportedType("this kind of file is not accepted: send images, PDF or office documents")
        key = f"{subdir}/{digest.hexdigest()[:16]}-{os.urandom(4).hex()}"
        os.replace(tmp, root / key)
        return StoredFile(key, filename, content_type, size, digest.hexdigest())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def file_response(root: Path, storage_key: str, filename: str, content_type: str) -> FileResponse:
    path = (root / storage_key).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        from helpdesk.errors import NotFound

        raise NotFound("file is gone")
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    return FileResponse(path, media_type=content_type, filename=filename,
                        content_disposition_type=disposition, headers=SAFE_HEADERS)
