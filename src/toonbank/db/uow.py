"""Unit of work: one transaction whose side effects run only after it commits.

Services never commit. The caller at the boundary (a request handler, a worker step) opens a
unit of work, lets services add rows and register callbacks with :meth:`UnitOfWork.on_commit`
(realtime events, wake-ups of workers), and commits once. If the transaction rolls back, the
callbacks are dropped, so nothing is announced that did not happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

Callback = Callable[[], Awaitable[None] | None]


class UnitOfWork:
    def __init__(
        self, maker: async_sessionmaker[AsyncSession], write_lock: asyncio.Lock | None = None
    ) -> None:
        self._maker = maker
        self._write_lock = write_lock
        self._callbacks: list[Callback] = []
        self.session: AsyncSession
        self.locked: set[str] = set()
        """Keys this transaction already holds row locks for (see ``record_event``)."""

    def on_commit(self, callback: Callback) -> None:
        """Run ``callback`` after a successful commit (never on rollback)."""
        self._callbacks.append(callback)

    async def __aenter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            self.session = self._maker()
            await self.session.__aenter__()
            await self.session.begin()
        except BaseException:
            self._release()
            raise
        return self

    def _release(self) -> None:
        if self._write_lock is not None and self._write_lock.locked():
            self._write_lock.release()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                self._release()
        if exc_type is None:
            await self._run_callbacks()

    async def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:  # a failed notification must not undo a committed fact
                log.exception("after_commit_callback_failed")
