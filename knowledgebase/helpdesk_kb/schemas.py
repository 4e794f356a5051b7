"""Request and response bodies of the KB API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from helpdesk_kb.models import AttachmentKind, FeedbackKind


class ArticleIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=200_000)
    tags: list[str] = Field(default_factory=list, max_length=30)
    item_ids: list[int] = Field(default_factory=list, max_length=200)
    department_ids: list[int] = Field(default_factory=list, max_length=50)
    unit_id: int | None = None
    review_by: date | None = None
    is_guide: bool = False
    note: str = Field(default="", max_length=500)


class AttachmentOut(BaseModel):
    id: str
    kind: AttachmentKind
    filename: str
    title: str
    content_type: str
    size: int
    url: str


class ArticleOut(BaseModel):
    id: str
    slug: str | None
    title: str
    body: str
    html: str
    tags: list[str]
    status: str
    version: int
    published_version: int | None
    item_ids: list[int]
    department_ids: list[int]
    unit_id: int | None
    is_guide: bool
    review_by: date | None
    review_comment: str | None
    author_id: int | None
    reviewer_id: int | None
    updated_at: datetime
    published_at: datetime | None
    attachments: list[AttachmentOut]
    feedback: dict[str, int]
    can_review: bool = False


class VersionOut(BaseModel):
    version: int
    title: str
    body: str | None = None
    tags: list[str]
    item_ids: list[int]
    department_ids: list[int]
    author_id: int | None
    note: str
    created_at: datetime


class ReviewIn(BaseModel):
    comment: str = Field(default="", max_length=1000)


class FeedbackIn(BaseModel):
    kind: FeedbackKind
    comment: str = Field(default="", max_length=1000)


class SearchHitOut(BaseModel):
    id: str
    title_html: str
    snippet_html: str
    score: float
    items: list[int]
    status: str
    guide: bool
    maybe_related: bool = False  # shown with answer "none": not an answer, only near the question


class SearchOut(BaseModel):
    query: str
    total: int
    total_exact: bool = True
    page: int
    per_page: int
    mode: str
    did_you_mean: str | None
    search_id: int | None = None
    hits: list[SearchHitOut]
    answer: Literal["found", "none"] = "found"  # none: nothing in the KB answers this; hits are maybe related
    coverage: float = 0.0  # share of the query the best article covers (IDF-weighted)
    relative: float = 0.0  # its score against the query's best possible score


class ClickIn(BaseModel):
    article_id: str


class SuggestIn(BaseModel):
    item_id: int | None = None
    context: str = Field(default="", max_length=2000)
    limit: int = Field(default=5, ge=1, le=20)


class SendIn(BaseModel):
    article_id: str | None = None
    attachment_id: str | None = None


class DraftFromNotesIn(BaseModel):
    title: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=20_000)
    item_id: int | None = None
    work_order_id: str | None = None


class PreviewIn(BaseModel):
    body: str = Field(max_length=200_000)


class CannedReplyIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=2000)
    unit_id: int | None = None
    item_id: int | None = None
    sort: int = 0


class CannedReplyOut(BaseModel):
    id: int
    title: str
    text: str
    unit_id: int | None
    item_id: int | None
    sort: int


class UpkeepArticle(BaseModel):
    id: str
    title: str
    status: str
    review_by: date | None
    outdated: int
    reasons: list[str]


class UpkeepQuery(BaseModel):
    query: str
    searches: int
    zero_results: int  # includes searches answered "none"
    no_click: int
    last_at: datetime
    reported: int = 0  # times an agent filed it for upkeep


class VocabularyIn(BaseModel):
    term: str = Field(min_length=1, max_length=50)
    expansions: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=20)
    kind: Literal["colloquial", "abbreviation", "synonym", "old_name", "typo", "section"] = "synonym"
    enabled: bool = True  # False switches a shipped entry off
    note: str = Field(default="", max_length=200)


class VocabularyOut(BaseModel):
    id: int | None = None  # None: a shipped entry nobody edited
    term: str
    expansions: list[str]
    kind: str
    enabled: bool = True
    note: str = ""
    source: Literal["shipped", "edited"]
    shipped: bool = False  # an edited entry overriding a shipped one
    updated_by: int | None = None
    updated_by_name: str | None = None
    updated_at: datetime | None = None


class UpkeepOut(BaseModel):
    articles: list[UpkeepArticle]
    queries: list[UpkeepQuery]
