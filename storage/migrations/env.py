"""Alembic environment: runs on the connection :mod:`storage.migrate` hands it."""

from __future__ import annotations

from alembic import context

from storage.models import Base
from storage.search import include_name

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
