"""The floor for bench_expected_wait: the best estimate anyone could show at the moment of joining.

The oracle knows everything the simulation knows at that moment except the future: the exact
distributions of talk, wrap-up and patience, how long each busy agent's call (or wrap-up) has run,
and how many wait ahead. It draws the applicant's wait many times (busy calls' remaining time
conditioned on what has elapsed, each one ahead giving up by its memoryless patience, every later
call drawn afresh) and shows the value that minimises the expected error as the bench scores it,
|shown − actual| / max(actual, 60 s): the median of the draws weighted by 1 / max(wait, 60).

No estimator that sees only the present can beat it on average, so its median |error| is what the
queue's own randomness leaves for anyone (the bench prints it beside the product's estimate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FLOOR_S = 60.0  # the bench's error denominator: max(actual, 60 s)


class WaitOracle:
    def __init__(self, talk_mean: float, talk_cv: float, wrap_low: float, wrap_high: float, patience: float,
                 seed: int, draws: int = 400, pool: int = 200_000, blind: bool = False) -> None:
        self.rng = np.random.default_rng(seed)
        s2 = math.log(1 + talk_cv**2)
        # Talk times conditioned on having lasted e: a uniform pick among a large sorted pool above e.
        self.talks = np.sort(self.rng.lognormal(math.log(talk_mean) - s2 / 2, s2**0.5, pool))
        self.wrap_low, self.wrap_high, self.patience, self.draws = wrap_low, wrap_high, patience, draws
        # blind: not told how long the busy calls have run (each one's remaining time is drawn as for
        # a call met at a random moment: length-biased, a uniform share of it left)
        self.blind = blind
        occupied = self.talks + self.rng.uniform(wrap_low, wrap_high, pool)
        self.biased = occupied[self.rng.choice(pool, pool, p=occupied / occupied.sum())]

    def _call(self, n: int) -> np.ndarray:
        return self.rng.choice(self.talks, n) + self.rng.uniform(self.wrap_low, self.wrap_high, n)

    def _remaining_talk(self, elapsed: float) -> np.ndarray:
        start = min(int(np.searchsorted(self.talks, elapsed, side="right")), len(self.talks) - 1)
        picked = self.talks[self.rng.integers(start, len(self.talks), self.draws)]
        return np.maximum(picked - elapsed, 0.0) + self.rng.uniform(self.wrap_low, self.wrap_high, self.draws)

    def _remaining_wrap(self, elapsed: float) -> np.ndarray:
        low = max(self.wrap_low, min(elapsed, self.wrap_high))
        return self.rng.uniform(low, self.wrap_high, self.draws) - min(elapsed, self.wrap_high)

    def waits(self, talking: Sequence[float], wrapping: Sequence[float], free: int, ahead: int) -> np.ndarray:
        """Draws of the wait of an applicant joining behind `ahead` others, with agents `talking` and
        `wrapping` for the given elapsed seconds and `free` agents idle."""
        if self.blind:
            busy = len(talking) + len(wrapping)
            shape = (busy, self.draws)
            columns = list(self.rng.choice(self.biased, shape) * self.rng.uniform(0, 1, shape))
        else:
            columns = [self._remaining_talk(e) for e in talking] + [self._remaining_wrap(e) for e in wrapping]
        columns += [np.zeros(self.draws)] * free
        free_at = np.stack(columns, axis=1)
        rows = np.arange(self.draws)
        for _ in range(ahead):
            slot = free_at.argmin(axis=1)
            freed = free_at[rows, slot]
            stays = self.rng.exponential(self.patience, self.draws) >= freed
            free_at[rows[stays], slot[stays]] = freed[stays] + self._call(int(stays.sum()))
        return free_at.min(axis=1)

    def judge(self, talking: Sequence[float], wrapping: Sequence[float], free: int, ahead: int,
              within: Sequence[float] = (0.15, 0.25)) -> tuple[float, list[float]]:
        """(best shown, [chance within ±τ for each τ]). The best shown minimises
        E|shown − wait| / max(wait, 60): the median of the draws weighted by 1 / max(wait, 60). The
        chances are the most any single shown value can get: no estimator does better for this
        applicant, so their mean over applicants bounds the share any estimator gets within ±τ."""
        draws = np.sort(self.waits(talking, wrapping, free, ahead))
        weights = 1.0 / np.maximum(draws, FLOOR_S)
        cumulative = np.cumsum(weights)
        best = float(draws[int(np.searchsorted(cumulative, cumulative[-1] / 2))])
        return best, [best_chance(draws, tau) for tau in within]


def best_chance(draws: np.ndarray, tau: float) -> float:
    """max over x of P(|x − W| ≤ τ · max(W, 60)) for sorted draws of W. For a given x the waits that
    count form one interval; the best x puts that interval's lower end on a draw, so trying x at
    each draw's lower end is enough."""
    x = np.where(draws >= FLOOR_S, draws * (1 + tau), draws + tau * FLOOR_S)
    low = np.where(x / (1 + tau) >= FLOOR_S, x / (1 + tau), x - tau * FLOOR_S)
    high = np.where(x >= FLOOR_S * (1 - tau), x / (1 - tau), x + tau * FLOOR_S)
    counts = np.searchsorted(draws, high, side="right") - np.searchsorted(draws, low, side="left")
    return float(counts.max() / len(draws))
