"""Deterministic, hash-free randomness keyed by integers.

Every random decision of the generator is a pure function of the seed and an integer key
(company index, record slot, delivery date, ...). Python's ``hash()`` is salted per process
(``PYTHONHASHSEED``), so it is never used: keys are mixed into a 64-bit integer (a
multiply-xorshift fold plus the splitmix64 finaliser) that seeds ``random.Random`` or becomes a
uniform float directly. The consequence the rest of the package depends on: any company, with
everything hanging off it, can be regenerated in isolation, on any day, in any process,
without reading earlier output back.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _fmix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def mix(*parts: int) -> int:
    """Mix integers (any size or sign) into one well-distributed 64-bit integer.

    Each part is folded in with a multiply-xorshift step and the result goes through the
    splitmix64 finaliser once: cheap enough to call a few times per record at a million
    records, and distinct small-integer tuples never collide in practice.
    """
    h = 0x243F6A8885A308D3
    for p in parts:
        if p < 0 or p > _MASK:
            h = ((h ^ (1 if p < 0 else 2)) * _GOLDEN) & _MASK
            p = -p if p < 0 else p
            while p > _MASK:
                h = ((h ^ (p & _MASK)) * _GOLDEN) & _MASK
                h ^= h >> 29
                p >>= 64
        h = ((h ^ p) * _GOLDEN) & _MASK
        h ^= h >> 29
    return _fmix(h)


def unit(*parts: int) -> float:
    """A uniform float in [0, 1) determined by ``parts``."""
    return (mix(*parts) >> 11) * (1.0 / (1 << 53))


def rng(*parts: int) -> random.Random:
    """A ``random.Random`` seeded from ``parts`` (about 5 microseconds; use per entity)."""
    return random.Random(mix(*parts))


class Weighted(Generic[T]):
    """A weighted choice with precomputed cumulative weights (``random.choices`` without the
    per-call setup cost, which matters at a million draws)."""

    __slots__ = ("_cum", "_total", "items")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items: tuple[T, ...] = tuple(p[0] for p in pairs)
        self._cum = list(itertools.accumulate(p[1] for p in pairs))
        self._total = self._cum[-1]

    def index(self, r: random.Random) -> int:
        return bisect.bisect_right(self._cum, r.random() * self._total)

    def index_u(self, u: float) -> int:
        """The choice for a given uniform ``u`` (for low-discrepancy or pre-drawn values)."""
        return min(bisect.bisect_right(self._cum, u * self._total), len(self._cum) - 1)

    def pick(self, r: random.Random) -> T:
        return self.items[self.index(r)]

    def pick_u(self, u: float) -> T:
        return self.items[self.index_u(u)]


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SF_SEQ_SPACE = 62**7


def base62(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, d = divmod(n, 62)
        out = _B62[d] + out
    return out


def sf_checksum(id15: str) -> str:
    """Salesforce's 3-character case-safe suffix: one character per 5-character chunk, whose
    bit i is set when chunk character i is an upper-case letter."""
    out = ""
    for start in (0, 5, 10):
        bits = 0
        for i in range(5):
            if id15[start + i].isupper():
                bits |= 1 << i
        out += _SF_CHECK[bits]
    return out


def sf_id(prefix: str, pod: str, code: int, salt: int) -> str:
    """An 18-character Salesforce id: key prefix, pod, reserved ``0``, a 9-character sequence
    and the case-safe checksum. ``code`` must be unique per prefix; it is scrambled by a
    bijection of [0, 62**7) so ids look organic yet never collide."""
    seq = (code * 2_654_435_761 + salt) % _SF_SEQ_SPACE  # odd and not a multiple of 31: bijective
    id15 = prefix + pod + "000" + base62(seq, 7)
    return id15 + sf_checksum(id15)


def scramble(code: int, space: int, multiplier: int, salt: int) -> int:
    """A bijection of [0, space) when gcd(multiplier, space) == 1 (checked by callers' tests)."""
    return (code * multiplier + salt) % space
