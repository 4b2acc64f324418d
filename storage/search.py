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

import json
import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Subquery,
    Text,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)

from storage import models as m
from storage.models import table_of

T_MSG = table_of(m.Message)
T_CONV = table_of(m.Conversation)
T_CONTACT = table_of(m.Contact)

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


def _pattern(query: str) -> str:
    """The whole query for substring matches: trimmed, inner space collapsed, bounded."""
    return " ".join(query.split())[:200].lower()


def contact_matches(query: str) -> ColumnElement[bool]:
    """The contact's name or email holds the query, or its phone the query's digits."""
    pattern = _pattern(query)
    clauses: list[ColumnElement[bool]] = [
        func.lower(T_CONTACT.c.name).contains(pattern, autoescape=True),
        func.lower(T_CONTACT.c.email).contains(pattern, autoescape=True),
    ]
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        clauses.append(
            func.replace(func.replace(T_CONTACT.c.phone, " ", ""), "-", "").contains(
                digits, autoescape=True
            )
        )
    return or_(*clauses)


def tag_matches(query: str) -> ColumnElement[bool]:
    """A tag of the conversation holds the query (case-insensitive), as JSON text."""
    escaped = json.dumps(_pattern(query))[1:-1]
    return func.lower(cast(T_CONV.c.tags, Text)).contains(escaped, autoescape=True)


def has_tag(tag: str) -> ColumnElement[bool]:
    """The conversation carries exactly ``tag``."""
    return cast(T_CONV.c.tags, Text).contains(json.dumps(tag), autoescape=True)


def _message_scores(dialect: str, workspace_id: str, terms: list[str]) -> Subquery:
    """``(conversation_id, score)`` for the workspace's conversations whose messages hold
    every term (as a prefix), scored by their best message."""
    if dialect == "postgresql":
        config: ColumnElement[Any] = literal_column("'simple'::regconfig")
        vector = func.to_tsvector(config, T_MSG.c.text)
        tsquery = func.to_tsquery(config, " & ".join(f"{t}:*" for t in terms))
        return (
            select(
                T_MSG.c.conversation_id,
                func.max(func.ts_rank(vector, tsquery)).label("score"),
            )
            .where(T_MSG.c.workspace_id == workspace_id, vector.op("@@")(tsquery))
            .group_by(T_MSG.c.conversation_id)
            .subquery("message_scores")
        )
    # FTS5's ``rank`` column (bm25, lower is better) rather than ``bm25()``: the auxiliary
    # function cannot be called once SQLite flattens this subquery into the outer query.
    hits = (
        text(
            "SELECT rowid AS rid, -rank AS score FROM messages_fts WHERE messages_fts MATCH :match"
        )
        .bindparams(match=" ".join(f'"{t}"*' for t in terms))
        .columns(rid=Integer, score=Float)
        .subquery("hits")
    )
    return (
        select(T_MSG.c.conversation_id, func.max(hits.c.score).label("score"))
        .select_from(T_MSG.join(hits, literal_column("messages.rowid") == hits.c.rid))
        .where(T_MSG.c.workspace_id == workspace_id)
        .group_by(T_MSG.c.conversation_id)
        .subquery("message_scores")
    )


def ranked_conversations(dialect: str, workspace_id: str, query: str) -> Select[Any] | None:
    """The workspace's conversations that match ``query``, as ``(Conversation, score)``
    rows, best first (then the most recently updated). None when the query holds nothing
    to search for; the caller answers an empty page."""
    terms = words(query)
    if not terms:
        return None
    scores = _message_scores(dialect, workspace_id, terms)
    by_contact = contact_matches(query)
    by_tag = tag_matches(query)
    score = (
        func.coalesce(scores.c.score, 0.0)
        + case((by_contact, 1.0), else_=0.0)
        + case((by_tag, 0.5), else_=0.0)
    ).label("score")
    return (
        select(m.Conversation, score)
        .join(T_CONTACT, T_CONTACT.c.id == m.Conversation.contact_id)
        .outerjoin(scores, scores.c.conversation_id == m.Conversation.id)
        .where(
            m.Conversation.workspace_id == workspace_id,
            or_(scores.c.score.is_not(None), by_contact, by_tag),
        )
        .order_by(score.desc(), m.Conversation.updated_at.desc(), m.Conversation.id.desc())
    )
