"""A web process works on at most ``settings.web_requests_per_process`` requests at once; the
others wait their turn and are all answered (edge/limit.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from edge.limit import RequestLimit


def run(coroutine):
    """``asyncio.run`` in a thread of its own: an earlier test in this worker process may have
    left an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _counting_app():
    state = {"now": 0, "most": 0}

    async def app(scope, receive, send):
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
        await asyncio.sleep(0.02)  # a request under way: others arrive meanwhile
        state["now"] -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app, state


async def _fire(app, n: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = await asyncio.gather(*(client.get(f"/{i}") for i in range(n)))
    return [a.status_code for a in answers]


def test_no_more_requests_than_the_limit_at_once_and_every_one_answered():
    inner, state = _counting_app()
    assert run(_fire(RequestLimit(inner, limit=3), 12)) == [200] * 12
    assert state["most"] == 3
    # Without the limit the same burst runs all at once: the count above is the limit's doing.
    inner, state = _counting_app()
    assert run(_fire(inner, 12)) == [200] * 12
    assert state["most"] == 12


def test_work_after_the_response_does_not_hold_the_turn():
    """A route's background task (an upload's import runs as one) runs after the response:
    with one turn, a second request is answered while the first one's task still runs."""
    calls: list[str] = []
    told: dict[str, bool] = {}

    async def both():
        second_answered = asyncio.Event()

        async def app(scope, receive, send):
            calls.append(scope["path"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            if scope["path"] == "/first":
                # the background work: it ends once the second request has been answered (or,
                # the turn held, when it gives up waiting)
                try:
                    await asyncio.wait_for(second_answered.wait(), timeout=30)
                    told["second answered meanwhile"] = True
                except TimeoutError:
                    told["second answered meanwhile"] = False

        limited = RequestLimit(app, limit=1)
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            first = asyncio.create_task(client.get("/first"))
            async with asyncio.timeout(30):
                while calls != ["/first"]:
                    await asyncio.sleep(0.001)
            second = await client.get("/second")
            second_answered.set()
            return (await first).status_code, second.status_code

    assert run(both()) == (200, 200)
    assert told == {"second answered meanwhile": True}
    assert calls == ["/first", "/second"]


def test_the_app_is_served_within_the_setting(monkeypatch):
    from app import create_app
    from winback.config import get_settings

    monkeypatch.setenv("WINBACK_WEB_REQUESTS_PER_PROCESS", "2")
    get_settings.cache_clear()
    try:
        app = create_app()
        limits = [m for m in app.user_middleware if m.cls is RequestLimit]
        assert [m.kwargs["limit"] for m in limits] == [2]
    finally:
        get_settings.cache_clear()
