"""Background loops of one process (ticker, sweeps, feeds): started in the lifespan, cancelled when
it closes, so nothing outlives the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any


def start_background(stack: AsyncExitStack, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    task = asyncio.create_task(coro, name=name)
    stack.push_async_callback(cancel, task)
    return task


async def cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
