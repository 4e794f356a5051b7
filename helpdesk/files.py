"""Uploaded files: size-limited streaming to disk, type decided from the bytes (not the name or the
client's header), the name's extension made to agree with that type, images re-encoded (which drops
anything hidden after or inside them, and EXIF location), served so that a browser never runs them."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import filetype
from fastapi import UploadFile
from fastapi.responses import FileResponse
from PIL import Image, ImageOps
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedType, error_body

CHUNK = 64 * 1024
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
}
INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
# The allow-list: sniffed type → the extensions a file of that type may carry (the first is the one
# a mismatched name gets).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "application/msword": (".doc",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "text/plain": (".txt",),
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
MAX_IMAGE_PIXELS = 50_000_000  # a 20 MiB PNG can unpack to gigabytes: refuse past ~50 megapixels
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
    renamed_from: str | None = None  # the name as sent, when its extension did not fit the content


def clean_filename(name: str | None) -> str:
    """NFKC (full-width and look-alike forms folded), no bidi or other format characters (U+202E, the
    right-to-left override, makes a name ending "gnp.exe" display as ending "exe.png"), no path or
    shell-special characters."""
    name = unicodedata.normalize("NFKC", (name or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cf", "Cc", "Zl", "Zp"))
    name = os.path.basename(name).strip(" .")
    name = re.sub(r"[/\\:*?\"<>|]", "_", name)
    return name[:200] or "file"


def name_for_type(filename: str, content_type: str) -> str:
    """The name with an extension allowed for the content: kept when it fits, else replaced."""
    stem, ext = os.path.splitext(filename)
    allowed = EXTENSIONS.get(content_type, ())
    if ext.lower() in allowed:
        return filename
    return (stem or "file") + (allowed[0] if allowed else ".bin")


def reencode_image(path: Path, content_type: str) -> bytes:
    """Decodes and re-encodes the image in place: pixels only, no EXIF/XMP/comments and nothing
    appended (a JPEG that is also an HTML page comes out as a plain JPEG)."""
    fmt = PILLOW_FORMATS[content_type]
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise PayloadTooLarge("the picture has too many pixels")
            frames = getattr(img, "n_frames", 1)
            if fmt == "GIF" and frames > 1:
                out = io.BytesIO()
                img.save(out, "GIF", save_all=True, loop=img.info.get("loop", 0))
            else:
                img.load()
                clean = ImageOps.exif_transpose(img)  # keep the orientation the EXIF asked for
                if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
                    clean = clean.convert("RGB")
                out = io.BytesIO()
                clean.save(out, fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise UnsupportedType("the picture could not be read; send it as JPEG or PNG",
                              code="unreadable_image") from exc
    path.write_bytes(out.getvalue())
    return out.getvalue()


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
                      allowed_types: list[str], reencode_images: bool = True) -> StoredFile:
    """Streams to a temp file, refusing past max_bytes, then checks the type, fits the name to it,
    re-encodes images (call files; evidence keeps its bytes) and moves it in place."""
    sent_name = clean_filename(upload.filename)
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
        content_type = sniff_type(head, sent_name)
        if content_type is None or content_type not in allowed_types or content_type not in EXTENSIONS:
            raise UnsupportedType("this kind of file is not accepted: send images, PDF or office documents")
        filename = name_for_type(sent_name, content_type)
        if reencode_images and content_type in PILLOW_FORMATS:
            data = await asyncio.to_thread(reencode_image, tmp, content_type)
            size, digest = len(data), hashlib.sha256(data)
        key = f"{subdir}/{digest.hexdigest()[:16]}-{os.urandom(4).hex()}"
        os.replace(tmp, root / key)
        return StoredFile(key, filename, content_type, size, digest.hexdigest(),
                          renamed_from=sent_name if filename != sent_name else None)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def file_response(root: Path, storage_key: str, filename: str, content_type: str) -> FileResponse:
    """Inline only for a picture whose name fits its type (stored re-encoded); anything else, and rows
    stored before names were fitted, downloads as an attachment."""
    path = (root / storage_key).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise NotFound("file is gone")
    fits = os.path.splitext(filename)[1].lower() in EXTENSIONS.get(content_type, ())
    disposition = "inline" if content_type in INLINE_TYPES and fits else "attachment"
    return FileResponse(path, media_type=content_type, filename=filename,
                        content_disposition_type=disposition, headers=SAFE_HEADERS)


class BodySizeLimit:
    """Bodies past the limit get the error family's 413 (too_large): at once when the Content-Length
    says so, else as soon as the streamed bytes pass it (before multipart parsing spools them to disk).
    Used instead of FastAPI's max_body_size, whose 413 is plain text."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            body = json.dumps(error_body("too_large", self.message, scope.get("request_id"))).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # the route's body reading stops here; the handlers answer JSON
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)

    @property
    def message(self) -> str:
        return f"the request is larger than {self.max_bytes // (1024 * 1024)} MiB"
