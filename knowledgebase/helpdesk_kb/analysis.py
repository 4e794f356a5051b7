"""The Chinese analyzer (jieba, search mode) for the index and the query-side word splitter.

jieba loads its dictionary once per process (1.2-1.5 s): call `init_jieba()` at start-up.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import jieba
from whoosh.analysis import Analyzer, LowercaseFilter, StopFilter, Token, Tokenizer

_WORD = re.compile(r"[\u4e00-\u9fff]|[0-9a-zA-Z]")
_init_lock = threading.Lock()
_initialized = False

# Function words and the ways people ask ("怎么", "如何", "需要什么") that say nothing about the topic.
STOP_WORDS = frozenset(
    """的 了 和 与 及 或 是 在 我 你 您 他 她 它 们 吗 呢 吧 啊 呀 么 要 想 能 会 可以 能否
    是否 怎么 怎样 怎么样 如何 什么 哪些 哪个 哪里 哪儿 为什么 多少 请问 一下 需要 需 办 办理 咨询
    我们 你们 这个 那个 这 那 有 没有 去 到 给 把 被 让 就 都 也 还 又 吗 呢 啥 a an
    and are as at be by for from in is it of on or the to
    with 怎么办 怎么弄 怎样办 咋办 咋 一下子 请 帮 帮我 问 问下""".split()  # noqa: SIM905
)

# How people ask → the words guides use (许可证 → 许可 is handled by sub-words; these are not sub-words).
COLLOQUIAL: dict[str, list[str]] = {
    "多久": ["时限"],
    "多长时间": ["时限"],
    "几天": ["时限"],
    "多少天": ["时限"],
    "多少钱": ["收费"],
    "收费吗": ["收费"],
    "要钱": ["收费"],
    "费用": ["收费"],
    "免费": ["收费"],
    "丢": ["遗失", "补证"],
    "丢了": ["遗失", "补证"],
    "补办": ["补证", "补发", "遗失"],
    "坏了": ["损毁", "补证"],
    "在哪": ["地址", "窗口"],
    "在哪里": ["地址", "窗口"],
    "哪里": ["地址", "窗口"],
    "在哪儿": ["地址", "窗口"],
    "哪": ["地址", "窗口"],
    "个体户": ["个体工商户"],
    "社保": ["社会保险", "参保"],
    "低保": ["最低生活保障"],
    "法人": ["法定代表人"],
    "换证": ["变更", "换发"],
    "换照": ["变更", "换发"],
    "过户": ["转移登记"],
    "网吧": ["上网服务"],
    "开公司": ["设立登记"],
    "注册公司": ["设立登记"],
    "关门": ["注销"],
    "起名": ["名称"],
    "进度": ["进度查询", "办件"],
    "驳回": ["退件", "退回"],
    "退回": ["退件", "驳回"],
}


def init_jieba() -> None:
    """Load jieba's dictionary once for this process; later calls return at once."""
    global _initialized
    with _init_lock:
        if not _initialized:
            jieba.setLogLevel(60)
            jieba.initialize()
            _initialized = True


class JiebaTokenizer(Tokenizer):
    """jieba search mode (营业执照 → 营业, 执照, 营业执照); drops whitespace and punctuation."""

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, (word, start, end) in enumerate(jieba.tokenize(value, mode="search")):
            if not _WORD.search(word):
                continue
            token.original = token.text = word
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def chinese_analyzer() -> Analyzer:
    return JiebaTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=1)


def query_words(text: str) -> list[list[str]]:
    """Split a typed query into words, each with its alternatives (许可证 → [许可证, 许可, 可证]).

    The first alternative is the word as typed; the others are the guides' word for a colloquial one
    (多久 → 时限) and the shorter dictionary words inside it, so 许可证 still matches an article that
    only says 许可.
    """
    out: list[list[str]] = []
    seen: set[str] = set()
    for raw in jieba.cut(text.strip()):
        word = raw.strip().lower()
        if not word or not _WORD.search(word) or word in seen or (word in STOP_WORDS and word not in COLLOQUIAL):
            continue
        seen.add(word)
        alts = [word, *COLLOQUIAL.get(word, [])]
        if len(word) > 2 and not word.isascii():
            for sub in jieba.cut_for_search(word):
                sub = sub.lower()
                if 2 <= len(sub) < len(word) and sub not in alts and sub not in STOP_WORDS:
                    alts.append(sub)
        out.append(alts)
    return out
