"""An agent loop that ends on its own stops the agent instead of leaving it half alive."""

from __future__ import annotations

import asyncio

import pytest

from edge.agent import TaskStoppedError, _essential


async def test_a_loop_that_returns_stops_the_task_group() -> None:
    async def returns() -> None:
        await asyncio.sleep(0)

    async def forever() -> None:
        await asyncio.Event().wait()

    async def run_group() -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_essential(returns(), "uplink"))
            tasks.create_task(_essential(forever(), "bus:a"))

    with pytest.raises(ExceptionGroup) as caught:
        await run_group()
    assert caught.group_contains(TaskStoppedError, match="uplink ended unexpectedly")


async def test_a_cancel_swallowed_and_rethrown_inside_a_loop_stops_the_agent() -> None:
    async def cancelled_from_inside() -> None:
        raise asyncio.CancelledError  # what a library that mishandles cancellation may leak

    async def run_group() -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_essential(cancelled_from_inside(), "health"))

    with pytest.raises(ExceptionGroup) as caught:
        await run_group()
    assert caught.group_contains(TaskStoppedError, match="health was cancelled unexpectedly")


async def test_cancelling_the_agent_still_cancels_its_loops_quietly() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(_essential(forever(), "bus:a"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
