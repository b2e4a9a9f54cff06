"""A store wrapper that times every operation into the ``hearth_store_seconds`` histogram."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram


class TimedStore:
    """Delegates to the real store; each awaited call is observed under its method name."""

    def __init__(self, inner: Any, histogram: Histogram) -> None:
        self._inner = inner
        self._histogram = histogram

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        timed = self._timed(name)
        setattr(self, name, timed)  # built once per method: the hub calls save on every change
        return timed

    def _timed(self, name: str) -> Callable[..., Any]:
        observe = self._histogram.labels(name).observe
        inner = self._inner

        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = getattr(inner, name)(*args, **kwargs)  # looked up per call: tests may swap it
                if isinstance(result, Awaitable):
                    result = await result
                return result
            finally:
                observe(time.perf_counter() - started)

        return call
