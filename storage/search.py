"""Full-text search over a workspace's conversations and contacts.

Messages are matched by words: on Postgres through the GIN index over
``to_tsvector('simple', text)`` and ``ts_rank``; on SQLite through the FTS5 table
``messages_fts`` and ``bm25`` (both made by migration ``inbox_0003``). A query of any shape
becomes a list of plain words first (letters and digits; every operator, quote and
punctuation mark is dropped), each matched as a prefix, all of them required; so no query
can be a syntax error in either engine. The contact's name, email and phone and the
conversation's tags match the whole query as a substring, case-insensitively.

The index objects live outside the models' metadata: :func:`include_name` keeps alembic's
comparison from reading them as strays.
"""

from __future__ import annotations

import re
from typing import Any

# FTS5's table and its shadow tables; the Postgres expression index.
_SEARCH_OBJECTS = frozenset(
    {
        "messages_fts",
        "messages_fts_data",
        "messages_fts_idx",
        "messages_fts_docsize",
        "messages_fts_config",
        "messages_fts_content",
        "ix_messages_fts",
    }
)
MAX_WORDS = 8
MAX_WORD = 64
_WORD = re.compile(r"\w+")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For alembic's ``include_name``: everything but the search index's own objects."""
    return name not in _SEARCH_OBJECTS


def words(query: str) -> list[str]:
    """The query's words, lower-cased, at most :data:`MAX_WORDS` of :data:`MAX_WORD` chars.

    ``"ship* -\\"date\\" AND"`` gives ``["ship", "date", "and"]``: operators are words like
    any other, never syntax."""
    found = [w.lower()[:MAX_WORD] for w in _WORD.findall(query)]
    return list(dict.fromkeys(found))[:MAX_WORDS]
