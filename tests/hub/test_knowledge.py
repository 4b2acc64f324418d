"""Ranking a workspace's documents against a question (hub/knowledge.py), without I/O."""

from __future__ import annotations

from hub.knowledge import Document, passages, rank, words

PRICES = Document(
    "Prices",
    "A haircut costs 30 euros.\n\nColouring costs 60 euros and takes two hours.",
)
HOURS = Document("Opening hours", "We are open 9 to 17, Monday to Friday. Closed on Sundays.")
PARKING = Document("Parking", "Free parking behind the salon, entrance from Mill Street.")


def test_words_are_folded_and_stop_words_left_out() -> None:
    assert words("What does the Café's colouring cost?") == ["cafe", "colouring", "cost"]


def test_a_long_document_is_cut_at_paragraphs_into_passages_of_bounded_size() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(10))
    cut = passages(Document("Long", text), size=400)
    assert len(cut) > 1
    assert all(len(p.text) <= 400 for p in cut)
    assert all(p.title == "Long" for p in cut)
    assert "".join(p.text for p in cut).count("Paragraph") == 10


def test_one_huge_paragraph_is_cut_too() -> None:
    cut = passages(Document("Wall", "x" * 2000), size=500)
    assert [len(p.text) for p in cut] == [500, 500, 500, 500]


def test_the_passage_that_answers_the_question_ranks_first() -> None:
    found = rank("How much is colouring?", [HOURS, PRICES, PARKING])
    assert found[0].title == "Prices"
    assert "Colouring costs 60 euros" in found[0].text


def test_a_question_the_documents_do_not_touch_finds_nothing() -> None:
    assert rank("Do you sell gift vouchers?", [HOURS, PRICES, PARKING]) == []


def test_a_question_of_stop_words_only_finds_nothing() -> None:
    assert rank("what is it?", [HOURS, PRICES]) == []


def test_at_most_top_passages_are_returned() -> None:
    many = [Document(f"Doc {i}", f"Parking note number {i}.") for i in range(10)]
    assert len(rank("parking", many, top=3)) == 3


def test_the_title_counts_towards_a_match() -> None:
    assert rank("opening hours", [PRICES, HOURS])[0].title == "Opening hours"
