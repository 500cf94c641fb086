"""The clock of one county's HTTP pull (xuncha.extract.connectors.pull_http): every request of the pull — the listing's
pages, each manifest, each file — ends by the request's deadline and the pull's one overall deadline.

httpx's timeouts bound each socket operation, not a whole answer: a county system that sends one byte every second
keeps every read short and can hold a request, and so the county's task, for as long as it drips (issue 28: 41 s
with a 2 s request and an 8 s pull limit). So each request is streamed with a watchdog (`PullClock.get`): a timer
armed for what is left of both deadlines shuts the request's sockets down when it fires (known from httpcore's
documented `trace` extension: `connection.connect_tcp` / `connection.start_tls`), which ends any read at once, head
or body; the pull then fails with PullError naming the deadline. Bodies read into memory (listing pages,
manifests) are also capped at MAX_JSON_BYTES.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from xuncha.registry import County

MAX_JSON_BYTES = 16 * 1024 * 1024
"""The largest listing page or manifest read (bytes); a larger answer fails the pull as malformed."""


class PullError(RuntimeError):
    """A county system's answer could not be used (malformed, lying, too slow, too many pages): the county's task
    fails with this reason; the other counties carry on."""


class ServerError(Exception):
    """A 5xx answer: retried, then reported."""


def excerpt(value, limit: int = 80) -> str:
    """A value a county sent, for an error message: repr-escaped, at most `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def raise_for(resp, county: County) -> None:
    """PermissionError for 401, ServerError for 5xx (retried), PullError for any other 3xx/4xx answer."""
    if resp.status_code == 401:
        raise PermissionError(f"{county.label}: the county system refused our token (HTTP 401)")
    if resp.status_code >= 500:
        raise ServerError(f"{resp.request.method} {resp.request.url.path} → HTTP {resp.status_code}")
    if resp.status_code >= 400 or resp.status_code in range(300, 400):
        raise PullError(f"{county.label}: {resp.request.method} {resp.request.url.path} → HTTP {resp.status_code}")


class PullClock:
    """The pull's clock (`limits`: xuncha.extract.connectors.PullLimits): each request gets what is left of both
    deadlines, enforced by a watchdog; 5xx answers and transport errors are retried (tenacity) within the pull's."""

    def __init__(self, county: County, limits):
        self.county, self.limits, self._time = county, limits, time.monotonic
        self.pull_ends = self._time() + limits.pull_seconds
        self._streams: list = []
        self._cut_at: float | None = None

    def _late(self, request_started: float | None) -> PullError:
        now = self._time()
        request = request_started is not None and self.pull_ends - now > 0
        seconds = self.limits.request_seconds if request else self.limits.pull_seconds
        return PullError(f"{self.county.label}: {'a request' if request else 'the pull'} passed its deadline "
                         f"({seconds:g} s)")

    def left(self, request_started: float | None = None) -> float:
        """Seconds left of the pull's deadline (and of the request started at `request_started`); PullError when
        none is left."""
        now = self._time()
        left = self.pull_ends - now
        if request_started is not None:
            left = min(left, request_started + self.limits.request_seconds - now)
        if left <= 0:
            raise self._late(request_started)
        return left

    def call(self, fn):
        """fn() with retries on 5xx / transport errors (tenacity, exponential backoff within the pull's deadline)."""
        import httpx
        import tenacity

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, (httpx.TransportError, ServerError)) and not isinstance(exc, httpx.ReadTimeout)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable),
            stop=tenacity.stop_after_attempt(self.limits.retries + 1) | tenacity.stop_before_delay(
                max(self.pull_ends - self._time(), 0)),
            wait=tenacity.wait_exponential(multiplier=self.limits.backoff_seconds, max=30),
            reraise=True,
        )
        try:
            return retrying(fn)
        except ServerError as exc:
            raise PullError(f"{self.county.label}: {exc}") from None
        except httpx.TimeoutException:
            raise PullError(f"{self.county.label}: a request passed its deadline ({self.limits.request_seconds:g} s)") from None
        except httpx.TransportError as exc:
            raise PullError(f"{self.county.label}: the county system cannot be reached ({type(exc).__name__})") from None

    def get(self, client, path: str, params: dict | None = None, into: Path | None = None) -> bytes | None:
        """GET `path` within both deadlines, retried as `call` says. `into` None: the body (at most MAX_JSON_BYTES);
        else the body is written to the file `into` and None is returned (also for a 404: a listed file that is
        absent is the manifest check's to report). PullError past a deadline, however the server drips."""
        import httpx

        def once():
            started = self._time()
            self._cut_at = None
            watchdog = threading.Timer(self.left(started), self._cut)
            watchdog.daemon = True
            watchdog.start()
            try:
                with client.stream("GET", path, params=params, timeout=self._timeout(started),
                                   extensions={"trace": self._trace}) as resp:
                    if into is not None and resp.status_code == 404:
                        return None
                    raise_for(resp, self.county)
                    body = self._body(resp, started, into, path)
                if self._cut_at is not None:   # a body that ends with the connection ends early when it is cut
                    raise self._late(started)
                return body
            except httpx.TransportError:
                if self._cut_at is not None:
                    raise self._late(started) from None
                raise
            finally:
                watchdog.cancel()

        return self.call(once)

    def _body(self, resp, started: float, into: Path | None, path: str) -> bytes | None:
        if into is not None:
            with into.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    self.left(started)
                    fh.write(chunk)
            return None
        body = bytearray()
        for chunk in resp.iter_bytes():
            self.left(started)
            body += chunk
            if len(body) > MAX_JSON_BYTES:
                raise PullError(f"{self.county.label}: malformed answer to {path}: larger than {MAX_JSON_BYTES} bytes")
        return bytes(body)

    def _trace(self, event: str, info: dict) -> None:
        """httpcore's trace callback: keep every network stream the pull opens, for the watchdog."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self._streams.append(info.get("return_value"))

    def _cut(self) -> None:
        """The watchdog: a deadline passed mid-request; shut the pull's sockets down (ends any blocked read)."""
        self._cut_at = self._time()
        for stream in self._streams:
            try:
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass

    def _timeout(self, started: float):
        import httpx

        return httpx.Timeout(self.left(started), connect=min(self.limits.connect_seconds, self.left(started)))
