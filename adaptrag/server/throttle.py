"""Wrong API keys from one client address slow that address down.

A client may get `free` keys wrong within `window_s`; after that each wrong key blocks its
address for twice as long as the one before (1 s, 2 s, 4 s... up to `max_delay_s`), and
every request from it meanwhile gets a 429 with `Retry-After`, before its key is looked at.
A right key clears the count. The Guard calls it on the event loop's one thread, so it
needs no lock; it forgets the oldest addresses past `max_clients`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    window_start: float
    blocked_until: float = 0.0


class WrongKeyThrottle:
    """Per-address count of wrong keys and the delay it has earned (see the module)."""

    def __init__(
        self,
        *,
        free: int = 10,
        window_s: float = 60.0,
        max_delay_s: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.window_s, self.max_delay_s = free, window_s, max_delay_s
        self.max_clients, self.clock = max_clients, clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after_s(self, client: str) -> int:
        """Whole seconds `client` must wait before its next try (0: it may try now)."""
        record = self._records.get(client)
        if record is None:
            return 0
        return max(0, math.ceil(record.blocked_until - self.clock()))

    def failed(self, client: str) -> None:
        """Count a wrong key from `client`, blocking it once it is past its free tries."""
        now = self.clock()
        record = self._records.pop(client, None)
        if record is None or (
            now - record.window_start > self.window_s and now >= record.blocked_until
        ):
            record = _Record(0, now)  # a new window
        record.failures += 1
        over = record.failures - self.free
        if over > 0:
            record.blocked_until = now + min(2.0 ** (over - 1), self.max_delay_s)
        self._records[client] = record
        while len(self._records) > self.max_clients:
            self._records.popitem(last=False)

    def succeeded(self, client: str) -> None:
        """A right key: `client` starts afresh."""
        self._records.pop(client, None)
