"""Import and export of a folder of articles: `<slug>.md` files (YAML front matter, Markdown body)
and a `<slug>/` folder beside each holding its attachments. See docs/knowledgebase.md."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.config import Settings
from helpdesk_kb import repository as repo
from helpdesk_kb import service
from helpdesk_kb.attachments import save_attachment, storage_path, type_for_filename
from helpdesk_kb.models import ArticleStatus, AttachmentKind, KbArticle
from helpdesk_kb.schemas import ArticleIn

departments = table("departments", column("id"), column("name"), column("code"))
FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
KNOWN_KEYS = {
    "title",
    "slug",
    "items",
    "departments",
    "tags",
    "guide",
    "status",
    "review_by",
    "scope_unit",
    "attachments",
}


class FormatError(ValueError):
    """A file that does not follow the folder format (the message names the file)."""


@dataclass
class ParsedArticle:
    slug: str
    meta: dict[str, Any]
    body: str
    folder: Path


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changed_ids: list[str] = field(default_factory=list)


def parse_file(path: Path) -> ParsedArticle:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    m = FRONT.match(text)
    if not m:
        raise FormatError(f"{path.name}: no front matter (a '---' block) at the top")
    meta = yaml.safe_load(m.group(1)) or {}
    if not isinstance(meta, dict):
        raise FormatError(f"{path.name}: the front matter must be a mapping")
    unknown = set(meta) - KNOWN_KEYS
    if unknown:
        raise FormatError(f"{path.name}: unknown keys {sorted(unknown)}")
    if not isinstance(meta.get("title"), str) or not meta["title"].strip():
        raise FormatError(f"{path.name}: a title is required")
    for key in ("items", "departments", "tags", "attachments"):
        if not isinstance(meta.get(key, []), list):
            raise FormatError(f"{path.name}: {key} must be a list")
    slug = str(meta.get("slug") or path.stem)
    if not SLUG.match(slug):
        raise FormatError(f"{path.name}: slug {slug!r} must be lowercase letters, digits and dashes")
    if meta.get("status", "published") not in ("draft", "published"):
        raise FormatError(f"{path.name}: status must be draft or published")
    return ParsedArticle(slug=slug, meta=meta, body=m.group(2).strip() + "\n", folder=path.parent / path.stem)


async def _resolve(session: AsyncSession, parsed: ParsedArticle, report: ImportReport) -> ArticleIn:
    meta = parsed.meta
    names = [str(n) for n in meta.get("items", [])]
    ids = await repo.item_ids_by_name(session, names)
    for name in names:
        if name not in ids:
            report.warnings.append(f"{parsed.slug}: no service item named {name!r}")
    dep_names = [str(n) for n in meta.get("departments", [])]
    dep_ids: list[int] = []
    if dep_names:
        rows = await session.execute(
            select(departments.c.id).where(departments.c.name.in_(dep_names) | departments.c.code.in_(dep_names))
        )
        dep_ids = [int(r[0]) for r in rows]
    review_by = meta.get("review_by")
    if isinstance(review_by, str):
        review_by = dt.date.fromisoformat(review_by)
    return ArticleIn(
        title=str(meta["title"]).strip(),
        body=parsed.body,
        tags=[str(t) for t in meta.get("tags", [])],
        item_ids=[ids[n] for n in names if n in ids],
        department_ids=dep_ids,
        unit_id=meta.get("scope_unit"),
        review_by=review_by,
        is_guide=bool(meta.get("guide", False)),
        note="imported",
    )


def article_files(folder: Path) -> list[Path]:
    skip = ("_", ".")
    return sorted(p for p in Path(folder).glob("*.md") if not p.name.startswith(skip) and p.name != "README.md")


async def import_folder(
    session: AsyncSession, settings: Settings, folder: Path, *, now: dt.datetime, publish: bool = True
) -> ImportReport:
    """Create or update articles by slug (a new version only when something changed); flushes only."""
    report = ImportReport()
    files = article_files(folder)
    for path in files:
        parsed = parse_file(path)
        data = await _resolve(session, parsed, report)
        article = await session.scalar(select(KbArticle).where(KbArticle.slug == parsed.slug))
        if article is None:
            article = await service.create_article(session, staff=None, data=data, now=now, slug=parsed.slug)
            report.created.append(parsed.slug)
        elif await _differs(session, article, data):
            if article.status == ArticleStatus.archived:
                article.status = ArticleStatus.draft
            await service.update_article(session, staff=None, article_id=article.id, data=data, now=now)
            report.updated.append(parsed.slug)
        else:
            report.unchanged.append(parsed.slug)
        added = await _attachments(session, settings, article, parsed, now, report)
        wants_publish = publish and parsed.meta.get("status", "published") == "published"
        published_now = wants_publish and article.published_version != article.version
        if published_now:
            await service.publish(session, staff=None, article_id=article.id, now=now)
        if added or published_now or parsed.slug not in report.unchanged:
            report.changed_ids.append(article.id)
    return report


async def _differs(session: AsyncSession, article: KbArticle, data: ArticleIn) -> bool:
    items, deps = await repo.article_links(session, article.id)
    return (
        (article.title, article.body, list(article.tags), article.is_guide, article.unit_id)
        != (data.title, data.body, data.tags, data.is_guide, data.unit_id)
        or items != sorted(set(data.item_ids))
        or (bool(data.department_ids) and deps != sorted(set(data.department_ids)))
    )


async def _attachments(
    session: AsyncSession,
    settings: Settings,
    article: KbArticle,
    parsed: ParsedArticle,
    now: dt.datetime,
    report: ImportReport,
) -> int:
    existing = {(a.filename, a.sha256) for a in await repo.attachments(session, article.id)}
    added = 0
    for spec in parsed.meta.get("attachments", []):
        spec = spec if isinstance(spec, dict) else {"file": str(spec)}
        name = str(spec.get("file", ""))
        path = parsed.folder / name
        if not name or not path.is_file() or parsed.folder.resolve() not in path.resolve().parents:
            report.warnings.append(f"{parsed.slug}: attachment {name!r} not found in {parsed.folder.name}/")
            continue
        data = path.read_bytes()
        if (name, hashlib.sha256(data).hexdigest()) in existing:
            continue
        await save_attachment(
            session,
            settings,
            article_id=article.id,
            filename=name,
            content_type=type_for_filename(name),
            data=data,
            kind=AttachmentKind(spec.get("kind", "other")),
            title=str(spec.get("title", "")),
            staff_id=None,
            now=now,
        )
        added += 1
    return added


async def export_folder(session: AsyncSession, settings: Settings, folder: Path) -> int:
    """Write every non-archived article's working copy (and its files) in the import format."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for article in await session.scalars(select(KbArticle).where(KbArticle.status != ArticleStatus.archived)):
        slug = article.slug or f"article-{article.id}"
        items, deps = await repo.article_links(session, article.id)
        names = await repo.item_names(session, items)
        files = await repo.attachments(session, article.id)
        meta: dict[str, Any] = {
            "title": article.title,
            "slug": slug,
            "items": [names[i] for i in items if i in names],
        }
        if deps:
            rows = await session.execute(select(departments.c.name).where(departments.c.id.in_(deps)))
            meta["departments"] = [str(r[0]) for r in rows]
        meta |= {
            "tags": list(article.tags),
            "guide": article.is_guide,
            "status": "published" if article.status == ArticleStatus.published else "draft",
        }
        if article.review_by:
            meta["review_by"] = article.review_by.isoformat()
        if article.unit_id:
            meta["scope_unit"] = article.unit_id
        if files:
            meta["attachments"] = [{"file": f.filename, "kind": f.kind.value, "title": f.title} for f in files]
            (folder / slug).mkdir(exist_ok=True)
            for f in files:
                shutil.copyfile(storage_path(settings, f.storage_key), folder / slug / f.filename)
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).strip()
        (folder / f"{slug}.md").write_text(f"---\n{front}\n---\n\n{article.body.strip()}\n", encoding="utf-8")
        count += 1
    return count
