"""How the app listens (`python -m bot serve`): slow and idle clients are cut off and the open
connections capped by the bot itself, with or without a proxy in front.

The socket is asyncio's server with aiohttp's web.Server (`AppRunner.server`) as the protocol
factory, as aiohttp's low-level server documentation serves one, behind `ConnectionCap`."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot import metrics
from bot.settings import Settings


def serve_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner `serve` uses. Its `keepalive_timeout` (aiohttp's, from the connection's start
    and after each answer, while no whole request is waiting) is the header timeout: a client
    that has not sent a request's headers by then is disconnected, and so is an idle one. After
    an answer given before the body was all read (408, 413), the rest of it is read and dropped
    for at most a second (aiohttp's `lingering_time`, 10 s by default), so that the client sees
    the answer but a slow one does not hold the connection."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=settings.http_header_timeout_seconds, lingering_time=1.0)


async def serve_socket(runner: web.AppRunner, settings: Settings) -> asyncio.AbstractServer:
    """Serve `runner` (set up) on the settings' host and port, at most `http_max_connections`
    connections at once: asyncio's server with aiohttp's web.Server as the protocol factory, as
    aiohttp's low-level server documentation serves one, behind `ConnectionCap`. Close it
    before `runner.cleanup()`."""
    cap = ConnectionCap(runner.server, settings.http_max_connections)
    return await asyncio.get_running_loop().create_server(cap, settings.host, settings.port, reuse_address=True)


#: The answer to a connection over the cap: at once, whatever it was going to ask.
_FULL = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n"
         "Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections, retry\r\n").encode()


class ConnectionCap:
    """A protocol factory for asyncio's server around aiohttp's web.Server: each connection
    gets aiohttp's handler while fewer than `most` are open, else a 503 and is closed."""

    def __init__(self, server: web.Server, most: int):
        self.server, self.most, self.open, self.refusing = server, most, 0, 0
        metrics.CONNECTIONS_OPEN.set_function(lambda: self.open)

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)


class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's handler when the cap has room (everything it is told is
    passed on to it), else refused when it opens: a 503, our side closed, and what the client
    still sends dropped until it closes too, for a second at most (closing a socket that has
    unread bytes sends a reset, which can destroy the 503 before the client reads it)."""

    __slots__ = ("cap", "handler", "closing")

    def __init__(self, cap: ConnectionCap):
        self.cap, self.handler, self.closing = cap, None, None

    def connection_made(self, transport) -> None:
        cap = self.cap
        if cap.open < cap.most:
            cap.open += 1
            self.handler = cap.server()
            self.handler.connection_made(transport)
            return
        metrics.CONNECTIONS_REFUSED.inc()
        transport.write(_FULL)
        if cap.refusing < cap.most and transport.can_write_eof():  # (a flood of refusals is not waited for)
            cap.refusing += 1
            transport.write_eof()
            self.closing = asyncio.get_running_loop().call_later(1.0, transport.close)
        else:
            transport.close()

    def connection_lost(self, exc) -> None:
        if self.handler is not None:
            self.cap.open -= 1
            self.handler.connection_lost(exc)
        elif self.closing is not None:
            self.cap.refusing -= 1
            self.closing.cancel()

    def data_received(self, data: bytes) -> None:
        if self.handler is not None:
            self.handler.data_received(data)

    def eof_received(self):
        return self.handler.eof_received() if self.handler is not None else None

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()
