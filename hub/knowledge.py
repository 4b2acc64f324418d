"""Finding the passages of a workspace's documents that answer a question: pure, no I/O.

``ai_reply`` answers from the business's own text only. Documents can be long, and only
what is relevant should go to the provider (docs/ai.md "Exactly what is sent"), so each
document is cut into passages of a few paragraphs (:func:`passages`) and ranked against
the contact's question with Okapi BM25 over plain words (:func:`rank`). No embeddings
service: the words of the question must appear in a passage for it to count, which is
also what keeps an answer grounded.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# A passage stays near this size: big enough to hold an answer, small enough that a few
# of them make a short prompt.
PASSAGE_CHARS = 800
# The most passages one ai_reply call carries.
TOP_PASSAGES = 4
# BM25's usual constants.
_K1 = 1.2
_B = 0.75

_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to say anything about what a passage is about (English; other
# languages are ranked well enough by BM25's inverse document frequency alone).
_STOP = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its me my "
    "of on or our so that the their there this to us was we what when where which who why "
    "will with you your".split()
)


@dataclass(frozen=True, slots=True)
class Document:
    """A document the workspace maintains: its title and text."""

    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of one document, ``title`` saying which."""

    title: str
    text: str


def words(text: str) -> list[str]:
    """The words of ``text`` that carry meaning: lower case, accents folded, stop words out."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return [w for w in _WORD.findall(folded) if w not in _STOP and (len(w) > 1 or w.isdigit())]


def passages(document: Document, size: int = PASSAGE_CHARS) -> list[Passage]:
    """The document cut at paragraph breaks into passages of about ``size`` characters;
    a paragraph longer than that is cut at sentence ends, then hard."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", document.text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            pieces.extend(_cut(paragraph, size))
    found: list[Passage] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > size:
            found.append(Passage(document.title, current))
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
    if current:
        found.append(Passage(document.title, current))
    return found


def _cut(paragraph: str, size: int) -> Iterable[str]:
    if len(paragraph) <= size:
        yield paragraph
        return
    current = ""
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        while len(sentence) > size:
            if current:
                yield current
                current = ""
            yield sentence[:size]
            sentence = sentence[size:]
        if current and len(current) + 1 + len(sentence) > size:
            yield current
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        yield current


def rank(question: str, documents: Sequence[Document], top: int = TOP_PASSAGES) -> list[Passage]:
    """The ``top`` passages of ``documents`` that best match ``question`` by BM25, best
    first; a passage sharing no word with the question is never returned, so a question
    the documents say nothing about gets none."""
    asked = set(words(question))
    if not asked:
        return []
    every = [p for doc in documents for p in passages(doc)]
    bags = [Counter(words(f"{p.title} {p.text}")) for p in every]
    if not bags:
        return []
    average = sum(sum(b.values()) for b in bags) / len(bags) or 1.0
    holding = {w: sum(1 for b in bags if w in b) for w in asked}
    scored: list[tuple[float, int]] = []
    for i, bag in enumerate(bags):
        length = sum(bag.values())
        score = 0.0
        for word in asked:
            count = bag.get(word, 0)
            if not count:
                continue
            idf = math.log(1 + (len(bags) - holding[word] + 0.5) / (holding[word] + 0.5))
            score += idf * count * (_K1 + 1) / (count + _K1 * (1 - _B + _B * length / average))
        if score > 0:
            scored.append((score, i))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [every[i] for _, i in scored[:top]]
