"""SQL that means the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignore(
    session: AsyncSession,
    table: FromClause,
    conflict_columns: Sequence[str],
    index_where: ColumnElement[bool] | None = None,
) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO NOTHING`` for the session's dialect.

    Deduplication relies on this and a unique index, never on check-then-insert, so concurrent
    duplicates (two webhooks at once, two processes) resolve inside the database.
    """
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    result: Insert
    result = statement.on_conflict_do_nothing(
        index_elements=list(conflict_columns), index_where=index_where
    )
    return result


def upsert(
    session: AsyncSession,
    table: FromClause,
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO UPDATE SET col = excluded.col`` for the session's dialect.

    Use with a list of parameter dicts (executemany) for set-based bulk writes.
    """
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    result: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={name: statement.excluded[name] for name in update_columns},
    )
    return result
