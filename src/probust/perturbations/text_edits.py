"""Random character edits of a text: substitutions or deletions at a stated rate (ProTIP's TextAttack-style
character edits; RoMA-LLM's one-letter typo law is ``rate = 1/L`` in expectation).

Text as a tensor: :func:`encode` maps a string to a 1-D float tensor of symbol codes, ``1 .. n_symbols`` for the
alphabet (``ALPHABET``: a-z and space by default) and 0 for padding after the end, so a batch of texts is a
batch of fixed-length code vectors a model can embed (``torch.nn.EmbeddingBag(..., padding_idx=0)``).

The law, a pushforward of a standard uniform latent ``z`` of shape ``(L, 2)``: position ``i`` (not padding) is
edited when ``z[i, 0] < rate``. ``op="substitute"`` replaces its symbol by one of the ``n_symbols - 1`` others,
uniformly (``floor(z[i, 1] (n_symbols - 1))`` steps further round the alphabet), so the number of changed
positions is exactly Binomial(n, rate) for a text of n symbols. ``op="delete"`` removes it; the symbols after
it move left and padding enters at the end.

The pushforward is discrete: x' is piecewise constant in ``z``. Monte Carlo and sequential certification need
nothing else; splitting estimators (``amls``, ``last-particle``) move by Metropolis steps in ``z`` and work, but a
model's score takes finitely many values here, so their level sets have plateaus (ties at a level), which they
resolve less well than continuous ones. Gradient estimators (``is``, ``gradient-smc``) would see a zero gradient
and are refused.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from ..components import Interval, Options, param, register
from ..errors import ConfigurationError, InputError
from ._base import LatentLaw, Perturbation

ALPHABET = "abcdefghijklmnopqrstuvwxyz "
OPS = ("substitute", "delete")


def encode(text: str, length: int | None = None, alphabet: str = ALPHABET) -> torch.Tensor:
    """Codes ``1 .. len(alphabet)`` of ``text`` (lower-cased), padded with 0 to ``length``."""
    text = text.lower()
    unknown = sorted(set(text) - set(alphabet))
    if unknown:
        raise InputError(f"characters {''.join(unknown)!r} are not in the alphabet {alphabet!r}; remove or map them")
    length = len(text) if length is None else length
    if len(text) > length:
        raise InputError(f"text has {len(text)} characters, more than length={length}")
    codes = [alphabet.index(c) + 1 for c in text] + [0] * (length - len(text))
    return torch.tensor(codes, dtype=torch.float32)


def decode(codes: torch.Tensor, alphabet: str = ALPHABET) -> str:
    """The text of a code vector (padding dropped)."""
    return "".join(alphabet[int(c) - 1] for c in codes.round().long().tolist() if c > 0)


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class CharEdits(Perturbation):
    """Each symbol is edited with probability ``rate``: substituted by another symbol, or deleted.

    Examples
    --------
    >>> p = CharEdits(rate=0.1)
    >>> p.to_spec()
    'char-edits:rate=0.1,op=substitute,n_symbols=27'
    >>> decode(p.apply(encode("probust"), torch.tensor([[[0.05, 0.0]] + [[0.9, 0.0]] * 6]))[0])
    'qrobust'
    """

    rate: float = param(check=Interval(float, 0, 1, "right"))
    op: str = param("substitute", Options(*OPS))
    n_symbols: int = param(len(ALPHABET), Interval(int, 2))
    name = "char-edits"
    example = "char-edits:rate=0.1"
    tags = frozenset({"text"})
    latent_law: ClassVar[LatentLaw] = "uniform"

    def validate(self) -> None:
        if self.clip is not None:
            raise ConfigurationError("char-edits works on symbol codes; clip= does not apply, drop it")

    def to_spec(self) -> str:
        return f"{self.name}:rate={self.rate:g},op={self.op},n_symbols={self.n_symbols}"

    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        return (*tuple(x_shape), 2)

    def check_input(self, x: torch.Tensor) -> None:
        codes = x.round()
        valid = (x.ndim == 1 and torch.equal(codes, x) and bool(((codes >= 0) & (codes <= self.n_symbols)).all()))
        # padding only after the text: the codes are non-zero, then zero
        if not valid or bool(((codes[1:] > 0) & (codes[:-1] == 0)).any()):
            raise InputError(
                f"char-edits takes one text as a 1-D tensor of codes 1..{self.n_symbols} padded with 0 at the end "
                f"(probust.perturbations.text_edits.encode), got shape {tuple(x.shape)}"
            )

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        raise TypeError("char-edits is not additive; use apply(x, z)")

    def shift(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if z.requires_grad:
            raise ConfigurationError(
                "char-edits is piecewise constant in its latent (zero gradient); use estimator mc, sequential, "
                "amls or last-particle"
            )
        codes = x.round().long().expand(len(z), -1)
        edit = (z[..., 0] < self.rate) & (codes > 0)
        if self.op == "substitute":
            step = 1 + (z[..., 1] * (self.n_symbols - 1)).long().clamp_max(self.n_symbols - 2)
            out = torch.where(edit, (codes - 1 + step) % self.n_symbols + 1, codes)
        else:
            keep = ~edit & (codes > 0)
            target = torch.where(keep, keep.cumsum(1) - 1, codes.shape[1])  # dropped symbols go to a spare column
            out = torch.zeros(len(z), codes.shape[1] + 1, dtype=codes.dtype, device=codes.device)
            out.scatter_(1, target, torch.where(keep, codes, 0))
            out = out[:, :-1]
        return out.to(x.dtype)
