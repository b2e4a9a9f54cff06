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
        return self._timed(name, attr)

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = method(*args, **kwargs)
                if isinstance(result, Awaitable):
                    result = await result
                return result
            finally:
                self._histogram.labels(name).observe(time.perf_counter() - started)

        return call
