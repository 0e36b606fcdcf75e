"""Fault plan and request budget for /api/ requests: seeded random failures (end-to-end tests) and G's 429."""

import random
import threading
import time
from dataclasses import dataclass, field

KINDS = ("error", "429", "reset", "timeout_after_commit", "reset_after_commit")
BEFORE_WORK = ("error", "429", "reset")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class FaultPlan:
    """Each /api/ request fails with probability `rate`, with a kind drawn from `kinds` by a seeded RNG."""

    rate: float = 0.0
    kinds: tuple = KINDS
    seed: int | None = None
    slow_seconds: float = 3.0
    writes_only: bool = False
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self):
        self.kinds = tuple(self.kinds)
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds or not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be within 0..1 and kinds among {KINDS}; got {self.rate}, {self.kinds}")
        self._rng = random.Random(self.seed)

    def draw(self, method: str) -> str | None:
        if self.rate <= 0 or (self.writes_only and method not in WRITE_METHODS):
            return None
        with self._lock:  # one RNG for all server threads keeps a seeded run repeatable for sequential clients
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.kinds)


class RequestBudget:
    """G: requests per clock minute across the API, counted as Rack::Attack does (fixed windows of the epoch)."""

    def __init__(self, per_minute: int | None):
        self.per_minute = per_minute
        self._minute = None
        self._count = 0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        if not self.per_minute:
            return True
        minute = int(time.time() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._count = minute, 0
            self._count += 1  # Rack::Attack counts throttled requests too
            return self._count <= self.per_minute


def pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)
