"""A typed query → concepts: each concept is one thing the applicant asked about, with the index words
that express it and their weights (typed words 1.0, the vocabulary's words less, sub-words least).

身份证丢了怎么办 → [{身份证: 1, 丢: 1, 居民身份证: .8, 挂失: .8, 补领: .8, ...}] (怎么办 is a stop word).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jieba

from helpdesk_kb.analysis import (
    QUERY_STOP_WORDS,
    WORD_CHARS,
    general_idf,
    is_dictionary_word,
    is_listed,
    search_words,
)
from helpdesk_kb.vocab import Vocabulary, normalize

TYPED_WEIGHT = 1.0
EXPANSION_WEIGHT = 0.8  # the vocabulary's words: the typed words still count most
TYPO_WEIGHT = 0.9
SUBWORD_WEIGHT = 0.6  # 许可 inside 许可证
RARE_WORD_FREQ = 10  # jieba knows 许克 (frequency 4) but it is a typo of 许可; 护照 (242) is a real word


@dataclass
class Concept:
    text: str  # as typed
    forms: dict[str, float] = field(default_factory=dict)  # index word → weight
    corrected: str | None = None  # the word a typo was read as
    section: bool = False  # asks about a section (收费, 时限): matches every guide, carries no topic
    candidates: list[str] = field(default_factory=list)  # typo readings, before the context picks one

    @property
    def importance(self) -> float:
        """How much of the question this concept is: the general-language IDF of what was typed
        (a phrase not in the table: the mean of its words)."""
        word = self.corrected or self.text
        if is_listed(word):
            return general_idf(word)
        pieces = [w for w in search_words(word) if is_listed(w)]
        return sum(map(general_idf, pieces)) / len(pieces) if pieces else general_idf(word)

    def add(self, words: list[str], weight: float) -> None:
        for w in words:
            if w not in QUERY_STOP_WORDS and self.forms.get(w, 0.0) < weight:
                self.forms[w] = weight


def _word_concept(word: str) -> Concept:
    c = Concept(word)
    c.add([word], TYPED_WEIGHT)
    if len(word) > 2 and not word.isascii():
        c.add([s for s in search_words(word) if 2 <= len(s) < len(word)], SUBWORD_WEIGHT)
    return c


def _strip_stop(word: str) -> str:
    """jieba glues filler onto words it does not know (能领, 哪开, 挂个): cut it off both ends."""
    while len(word) > 1 and word[0] in QUERY_STOP_WORDS:
        word = word[1:]
    while len(word) > 1 and word[-1] in QUERY_STOP_WORDS:
        word = word[:-1]
    return word


def _is_suspect(word: str, known: Callable[[str], bool]) -> bool:
    """Possibly a typo: not in the index and not a common word (so 护照 is not "corrected" to 执照)."""
    if not WORD_CHARS.search(word) or word.isascii() or known(word):
        return False
    return len(word) == 1 or not is_dictionary_word(word) or jieba.dt.FREQ.get(word, 0) <= RARE_WORD_FREQ


Correct = Callable[[str], list[str]]  # an index word → the index words one edit away, most common first


def _plain_concepts(text: str, known: Callable[[str], bool], correct: Correct) -> list[Concept]:
    tokens = [t.strip() for t in jieba.cut(text) if t.strip() and WORD_CHARS.search(t)]
    tokens = [t if is_dictionary_word(t) else _strip_stop(t) for t in tokens if t not in QUERY_STOP_WORDS]
    tokens = [t for t in tokens if t not in QUERY_STOP_WORDS]
    out: list[Concept] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if _is_suspect(tok, known):
            fixed = _fix_typo(tokens, i, out, known, correct)
            if fixed is not None:
                concept, i = fixed
                out.append(concept)
                continue
        if tok not in QUERY_STOP_WORDS:
            out.append(_word_concept(tok))
        i += 1
    return out


def _fix_typo(
    tokens: list[str], i: int, out: list[Concept], known: Callable[[str], bool], correct: Correct
) -> tuple[Concept, int] | None:
    """Try the token, then the token joined with its neighbour (营业+执招 → 营业执照); returns the concept
    and the next token index. A concept already made from the previous token is replaced."""
    tok = tokens[i]
    tries: list[tuple[str, int, bool]] = []  # (text, next index, uses previous token); longest reading first
    if i > 0 and len(tokens[i - 1]) >= 2 and out and out[-1].text == tokens[i - 1]:
        tries.append((tokens[i - 1] + tok, i + 1, True))  # 公积+今 → 公积金, 社会+团休 → 社会团体
    if len(tok) >= 2:
        if i + 1 < len(tokens) and len(tokens[i + 1]) == 1:
            tries.append((tok + tokens[i + 1], i + 2, False))  # 许克+证 → 许可证
        tries.append((tok, i + 1, False))
    for text, nxt, uses_prev in tries:
        if len(text) < 2 or known(text):
            continue
        candidates = correct(text)
        if not candidates:
            continue
        if uses_prev:
            out.pop()
        c = Concept(text, corrected=candidates[0], candidates=candidates)
        c.add([candidates[0]], TYPO_WEIGHT)
        return c, nxt
    return None


def parse(
    text: str,
    vocabulary: Vocabulary,
    known: Callable[[str], bool],
    correct: Correct,
    together: Callable[[str, list[list[str]]], int],
    section_words: frozenset[str] = frozenset(),
) -> list[Concept]:
    """Vocabulary entries first (longest match), the rest word by word; stop words dropped."""
    text = normalize(text)
    concepts: list[Concept] = []
    pos = 0
    for start, end, entry in vocabulary.find(text):
        concepts += _plain_concepts(text[pos:start], known, correct)
        c = Concept(entry.term, section=entry.kind == "section")
        pieces = search_words(entry.term)
        # The term itself counts most; its pieces (失业 of 失业证) less than the guides' word (就业创业证).
        c.add([entry.term] if entry.term in pieces else [], TYPED_WEIGHT)
        c.add([w for w in pieces if w != entry.term], SUBWORD_WEIGHT)
        for phrase in entry.expansions:
            c.add(search_words(phrase), EXPANSION_WEIGHT)
        if c.forms:
            concepts.append(c)
        pos = end
    concepts += _plain_concepts(text[pos:], known, correct)
    for c in concepts:
        c.section = c.section or bool(set(c.forms) & section_words)
    concepts = [c for c in concepts if not c.candidates or _read_typo(c, concepts, together)]
    return _merge_duplicates(concepts)


def _read_typo(c: Concept, concepts: list[Concept], together: Callable[[str, list[list[str]]], int]) -> bool:
    """Pick the reading that occurs with the query's other words (执叶 + 医疗机构 → 执业, not 执照). A
    two-character reading needs that support (电动车上牌: 上牌 is not 上网); False drops the concept
    back to an unknown word."""
    others = [
        [w for w, x in o.forms.items() if x >= EXPANSION_WEIGHT]
        for o in concepts
        if o is not c and not o.section and not o.candidates
    ]
    support = {cand: together(cand, others) for cand in c.candidates} if others else {}
    best = max(c.candidates, key=lambda cand: support.get(cand, 0)) if support else c.candidates[0]
    if len(c.text) <= 2 and not support.get(best):
        c.forms, c.corrected, c.candidates = {c.text: TYPED_WEIGHT}, None, []
        return True
    c.forms, c.corrected = {best: TYPO_WEIGHT}, best
    return True


def _merge_duplicates(concepts: list[Concept]) -> list[Concept]:
    seen: dict[frozenset[str], Concept] = {}
    for c in concepts:
        seen.setdefault(frozenset(c.forms), c)
    return list(seen.values())
