"""``toonbank chat``: a terminal customer on the same pipeline as every other channel.

Each input line is ingested like a webhook message on the workspace's terminal connection,
processed by the worker (in this process, or any other worker on the same database), and the
replies are printed once the outbox has delivered them.
"""

from __future__ import annotations

import asyncio
from typing import TextIO

from sqlalchemy import func, select

from toonbank.channels.base import Connection, InboundMessage
from toonbank.channels.connections import create_connection, find_connection, to_connection
from toonbank.channels.content import Text, parse_content
from toonbank.channels.render import format_plain
from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, Message, new_id
from toonbank.models.conversations import is_outbox, is_unprocessed
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker
from toonbank.workspaces.service import workspace_by_name


async def terminal_connection(ctx: Context, workspace: str) -> Connection:
    if workspace == "demo":
        from toonbank.demo import ensure_demo

        await ensure_demo(ctx)
    async with ctx.db.uow() as uow:
        ws = await workspace_by_name(uow.session, workspace)
        if ws is None:
            raise LookupError(f"no workspace named {workspace!r}")
        row = await find_connection(uow.session, ws.id, "terminal")
        if row is None:
            row = await create_connection(
                uow.session,
                ctx.secret_box,
                ctx.channels,
                workspace_id=ws.id,
                type="terminal",
                name="Terminal",
                values={},
            )
    return to_connection(row, ctx.secret_box)


class TerminalSession:
    def __init__(self, ctx: Context, connection: Connection, user: str) -> None:
        self.ctx = ctx
        self.connection = connection
        self.user = user
        self.last_printed = 0
        self.worker = Worker(ctx)

    async def send(self, text: str, timeout: float) -> list[str]:
        """Send one line; return the replies' plain text once the pipeline is idle."""
        message = InboundMessage(
            provider_message_id=new_id(),
            sender_id=self.user,
            content=Text(text=text),
            timestamp=now(),
        )
        await store_events(self.ctx, self.connection, [message])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.worker.drain(timeout=max(1.0, deadline - loop.time()))
            if await self._idle():
                break
            if loop.time() > deadline:
                raise TimeoutError("no reply in time (is a worker with this database running?)")
            await asyncio.sleep(0.05)
        return await self._new_replies()

    async def _contact_id(self) -> str | None:
        async with self.ctx.db.session() as session:
            return await session.scalar(
                select(ContactIdentity.contact_id).where(
                    ContactIdentity.workspace_id == self.connection.workspace_id,
                    ContactIdentity.channel_type == "terminal",
                    ContactIdentity.external_id == self.user,
                )
            )

    async def _idle(self) -> bool:
        contact_id = await self._contact_id()
        if contact_id is None:
            return False
        async with self.ctx.db.session() as session:
            busy = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(
                    Message.contact_id == contact_id,
                    is_unprocessed(Message) | is_outbox(Message),
                )
            )
        return not busy

    async def _new_replies(self) -> list[str]:
        contact_id = await self._contact_id()
        async with self.ctx.db.session() as session:
            rows = (
                (
                    await session.execute(
                        select(Message)
                        .where(
                            Message.contact_id == contact_id,
                            Message.direction == "out",
                            Message.connection_id == self.connection.id,
                            Message.id > self.last_printed,
                        )
                        .order_by(Message.id)
                    )
                )
                .scalars()
                .all()
            )
        if rows:
            self.last_printed = rows[-1].id
        return [format_plain(parse_content(row.content)) for row in rows]


async def run_chat(
    settings: Settings, workspace: str, user: str | None, stream: TextIO, timeout: float
) -> None:
    ctx = create_context(settings)
    await ctx.start()
    try:
        connection = await terminal_connection(ctx, workspace)
        session = TerminalSession(ctx, connection, user or f"terminal-{new_id()[:12]}")
        interactive = stream.isatty()
        while True:
            if interactive:
                print("you> ", end="", flush=True)
            line = await asyncio.to_thread(stream.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            for reply in await session.send(text, timeout):
                print(reply, flush=True)
            if interactive:
                print(flush=True)
    finally:
        await ctx.close()
