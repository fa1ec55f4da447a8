"""SQL that means the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, insert
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
    key = (dialect, table, tuple(conflict_columns))
    cached = _IGNORING.get(key) if index_where is None else None
    if cached is not None:  # built once: a new statement would compute its cache key again
        return cached
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    result: Insert
    result = statement.on_conflict_do_nothing(
        index_elements=list(conflict_columns), index_where=index_where
    )
    if index_where is None:
        _IGNORING[key] = result
    return result


_IGNORING: dict[tuple[str, FromClause, tuple[str, ...]], Insert] = {}
_RETURNING_IDS: dict[tuple[Table, bool], Insert] = {}


async def insert_ids(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` (integer primary key ``id``) as a batch; their new ids, in row order.

    PostgreSQL: ``RETURNING … sort_by_parameter_order`` orders them in one batched statement.
    SQLite: SQLAlchemy cannot prove that order for an integer key and falls back to one
    statement *per row*; instead the batch is inserted without the ordering request and the
    ids are sorted. That is the row order because a rowid table gives each new row the largest
    rowid so far plus one, rows of a multi-row ``VALUES`` are inserted in order, and the writer
    holds the database's only write lock (``BEGIN IMMEDIATE``) for the whole transaction.
    """
    ordered = session.get_bind().dialect.name != "sqlite"
    statement = _RETURNING_IDS.get((table, ordered))
    if statement is None:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=ordered)
        _RETURNING_IDS[(table, ordered)] = statement
    result = await session.execute(statement, rows)
    ids = list(result.scalars())
    return ids if ordered else sorted(ids)


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


async def bulk_insert(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], chunk: int = 2000
) -> None:
    """Insert many rows fast: PostgreSQL ``COPY`` (asyncpg), SQLite ``executemany``.

    Values go through each column type's own bind processor, exactly as SQLAlchemy would
    apply them, but once per value instead of through the per-row statement machinery, which
    dominates the cost of large imports. Every row must have the same keys; left-out columns
    get their Python-side defaults. Runs on the session's connection, inside its transaction.
    """
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    given = list(rows[0].keys())
    # Columns left out get their Python-side default, as an ORM or Core insert would.
    defaults = [
        (column.name, column.default)
        for column in table.columns
        if column.name not in rows[0] and column.default is not None
    ]
    names = given + [name for name, _default in defaults]
    columns = [table.c[name] for name in names]
    processors = [column.type.bind_processor(dialect) for column in columns]
    placeholders = _placeholders(dialect.paramstyle, len(names))
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608
        f"({quoted}) VALUES ({placeholders})"
    )
    pairs = list(zip(names, processors, strict=True))
    for start in range(0, len(rows), chunk):
        params = []
        for row in rows[start : start + chunk]:
            values = dict(row)
            for name, default in defaults:
                arg = default.arg  # type: ignore[attr-defined]
                values[name] = arg(None) if callable(arg) else arg
            params.append(
                tuple(
                    process(values[name]) if process is not None else values[name]
                    for name, process in pairs
                )
            )
        if dialect.name == "postgresql":
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                table.name, records=params, columns=names
            )
        else:
            await connection.exec_driver_sql(statement, params)


def _placeholders(paramstyle: str, count: int) -> str:
    if paramstyle == "qmark":
        return ", ".join("?" * count)
    if paramstyle == "numeric_dollar":
        return ", ".join(f"${n}" for n in range(1, count + 1))
    if paramstyle in ("format", "pyformat"):
        return ", ".join(["%s"] * count)
    raise NotImplementedError(f"paramstyle {paramstyle}")
