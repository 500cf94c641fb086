"""Serving the push intake on its own (`xuncha intake serve`): uvicorn, configured against slow clients.

uvicorn (0.54) times out an idle keep-alive connection (`timeout_keep_alive`) but not a request head that drips in:
a connection that sends a header byte now and then is held for as long as it likes (issue 28: 300 such connections
held for 40 s). `HeadDeadline` is uvicorn's h11 protocol with one timer more: a request's head (request line and
headers) must be complete within XUNCHA_PUSH_HEADER_SECONDS of the connection's start, or of the previous response on
a kept-alive connection; otherwise the connection is closed. h11's limit on an incomplete head (16 KiB) bounds its
size; the body's bounds and deadline are the handler's (xuncha.intake.receive).

Inside the Airflow API server (plugins/xuncha_intake_plugin.py) the server is Airflow's: its own uvicorn settings
apply to heads and idle connections, and only the handler's bounds (body size, unpacked size, file count, body
deadline) are ours: expose that mount to counties through a reverse proxy with a header timeout (docs/security.md).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from xuncha.intake.unpack import IntakeLimits, intake_limits

KEEP_ALIVE_SECONDS = 5
"""uvicorn's timeout_keep_alive: an idle kept-alive connection is closed after this."""
MAX_HEAD_BYTES = 16 * 1024
"""h11_max_incomplete_event_size: the largest request head accepted (a larger one is a 400)."""


class HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within `head_seconds`."""

    head_seconds: float = IntakeLimits.header_seconds

    def connection_made(self, transport) -> None:
        """A new connection: its head's deadline starts now."""
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.warning("closing %s: no complete request head within %g s (XUNCHA_PUSH_HEADER_SECONDS)",
                                "%s:%d" % self.client if self.client else "a client", self.head_seconds)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        """Bytes arrived: once they complete the request's head, its deadline is off."""
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def on_response_complete(self) -> None:
        """A response was sent: the next request's head on this kept-alive connection gets its own deadline."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc) -> None:
        """The connection is gone: no deadline left to keep."""
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


def config(app, host: str = "127.0.0.1", port: int = 8095, limits: IntakeLimits | None = None, **kw):
    """The uvicorn.Config of the intake: h11 with the head deadline (`limits.header_seconds`, default from the
    environment), keep-alive timeout, head size limit; `kw` passes on to uvicorn.Config (e.g. log_level)."""
    import uvicorn

    limits = limits or intake_limits()
    protocol = type("IntakeHeadDeadline", (HeadDeadline,), {"head_seconds": limits.header_seconds})
    return uvicorn.Config(app, host=host, port=port, http=protocol, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                          h11_max_incomplete_event_size=MAX_HEAD_BYTES, **kw)


def run(app, host: str = "127.0.0.1", port: int = 8095) -> None:
    """Serve `app` (xuncha.intake.server.app()) with `config` until stopped."""
    import uvicorn

    uvicorn.Server(config(app, host, port)).run()
