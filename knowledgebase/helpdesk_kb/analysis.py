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

WORD_CHARS = re.compile(r"[\u4e00-\u9fff]|[0-9a-zA-Z]")
_init_lock = threading.Lock()
_initialized = False

# Function words and the ways people ask ("怎么", "如何", "需要什么") that say nothing about the topic;
# the index drops them too (changing this list needs `helpdesk kb reindex`, see index.SCHEMA_VERSION).
STOP_WORDS = frozenset(
    """的 了 和 与 及 或 是 在 我 你 您 他 她 它 们 吗 呢 吧 啊 呀 么 要 想 能 会 可以 能否
    是否 怎么 怎样 怎么样 如何 什么 哪些 哪个 哪里 哪儿 为什么 多少 请问 一下 需要 需 办 办理 咨询
    我们 你们 这个 那个 这 那 有 没有 去 到 给 把 被 让 就 都 也 还 又 吗 呢 啥 a an
    and are as at be by for from in is it of on or the to
    with 怎么办 怎么弄 怎样办 咋办 咋 一下子 请 帮 帮我 问 问下""".split()  # noqa: SIM905
)

# Query side only: one-character words that name no topic (they hit titles by chance and outweighed the
# real topic words), and filler around a question. One-character words not listed here (税, 房, 狗, 书)
# do name a topic and are kept.
QUERY_STOP_WORDS = STOP_WORDS | frozenset(
    """个 下 些 点 上 里 中 内 外 前 后 时 次 种 样 位 号 月 日 年 天 才 再 已 将 该 可 很 太 更 最 一 不 没
    来 过 着 得 地 对 向 从 为 以 于 用 由 跟 同 比 等 等等 您好 你好 谢谢 麻烦 现在 今天 已经 时候 能不能
    可不可以 是不是 有没有 要不要 行不行 知道 告诉 一般 大概 具体 相关 方面 情况 问题 事情 事 东西 手续
    还要 应该 必须 得要 就是 然后 如果 因为 所以 但是 那么 这样 那样 自己 本人 家里 我家 我想 想要
    搞 弄 做 找 看 说 问问 办个 办下 去哪 哪 在哪 在哪里 哪儿办 哪办 怎么样才 应该怎么 交 领 开 考 换 补 查 拿
    取 报 签 填 写 用 买 卖 钱 证 卡 办证 时候 过来 过去 一样 每次""".split()  # noqa: SIM905
)

_general_idf: dict[str, float] = {}
_median_idf = 10.0


def init_jieba() -> None:
    """Load jieba's dictionary (and its general-language IDF table) once per process."""
    global _initialized, _median_idf
    with _init_lock:
        if not _initialized:
            jieba.setLogLevel(60)
            jieba.initialize()
            from jieba.analyse.tfidf import DEFAULT_IDF, IDFLoader

            loader = IDFLoader(DEFAULT_IDF)
            _general_idf.update(loader.idf_freq)
            _median_idf = float(loader.median_idf)
            _initialized = True


def general_idf(word: str, default: float | None = None) -> float:
    """How informative a word is in general Chinese (jieba's IDF table): 护照 9.7, 上班 7.4, 时候 4.3.
    It weighs the parts of a query for "no answer": a word is important to the asker whether or not
    the KB has it. Unlisted words (new or rare) get the median."""
    return _general_idf.get(word, _median_idf if default is None else default)


def is_listed(word: str) -> bool:
    return word in _general_idf


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
            if not WORD_CHARS.search(word):
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


def is_dictionary_word(word: str) -> bool:
    """A word jieba knows (护照, 执照); a typo (执招, 登纪) is not one, which is how typos are told apart."""
    return bool(jieba.dt.FREQ.get(word))


def search_words(text: str) -> list[str]:
    """The index's words for a phrase (jieba search mode, stop words out): 居民身份证 → 居民, 身份, 身份证,
    居民身份证."""
    words: list[str] = []
    for word in jieba.cut_for_search(text.lower()):
        word = word.strip()
        if word and WORD_CHARS.search(word) and word not in STOP_WORDS and word not in words:
            words.append(word)
    longer = [w for w in words if len(w) > 1 or w.isascii()]
    return longer or words  # 门 and 头 of 门头招牌 name nothing on their own; of 门头 they are all there is
