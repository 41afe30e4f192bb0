"""How many requests one web process works on at once; the others wait their turn, holding
nothing (``settings.web_requests_per_process``).

A request holds a pooled database connection from its log-in check to its commit, across the
hops between the event loop and the thread pool. When more requests than the pool's
connections were under way, the pool opened a connection for each extra one and closed it
afterwards: 675-812 new PostgreSQL backends in a 40 s soak of 32 staff on two processes,
each ~4 ms of the server's CPU and a cold cache for its first statements. Waiting here costs
nothing, and more requests at once do not use more than the process's one core for Python.
"""

from __future__ import annotations

import asyncio
import weakref


class RequestLimit:
    """Plain ASGI middleware: at most ``limit`` HTTP requests inside the app at once, each from
    its start to the end of its response."""

    def __init__(self, app, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        # One semaphore per event loop: a server runs one, but the test client starts its own.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        await gate.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                gate.release()

        async def send_then_release(message) -> None:
            await send(message)
            # The turn ends with the response: what the route left to run after it (an import
            # as a background task, minutes long) does not hold it.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                release()

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
