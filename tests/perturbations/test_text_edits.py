"""Character edits: the number of edits is exactly Binomial(n, rate), so a model that counts edits has an exact
failure probability that Monte Carlo, sequential certification and splitting meet; substitutions always change
the symbol and never touch padding; deletions shift left; gradient estimators are refused."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

import probust as pb
from probust.perturbations import CharEdits, parse_perturbation
from probust.perturbations.text_edits import decode, encode

TEXT = "the quick brown fox jumps"  # 25 symbols, padded to 32


class CountEdits(torch.nn.Module):
    """Logits (0, #changed - t + 1/2) for substitutions or (0, #deleted - t + 1/2): fails iff at least t edits."""

    def __init__(self, clean: torch.Tensor, t: int, op: str):
        super().__init__()
        self.clean, self.t, self.op = clean, t, op

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if self.op == "substitute":
            edits = (codes != self.clean).sum(1)
        else:
            edits = (self.clean > 0).sum() - (codes > 0).sum(1)
        return torch.stack([torch.zeros(len(codes)), self.t - 0.5 - edits.float()], 1)


@pytest.mark.parametrize("op", ["substitute", "delete"])
@pytest.mark.parametrize("name", ["mc", "amls", "sequential"])
def test_edit_counts_are_binomial_and_estimators_meet_the_exact_tail(op, name):
    x, rate, t = encode(TEXT, 32), 0.1, 6
    exact = float(scipy.stats.binom.sf(t - 1, len(TEXT), rate))  # P(Bin(25, 0.1) >= 6) = 0.033
    model = CountEdits(x, t, op).eval()
    sequential = pb.estimators.SequentialCertifier(max_failure=0.2)
    est = sequential if name == "sequential" else pb.estimators.get_estimator(name)
    res = est.estimate(model, x, CharEdits(rate=rate, op=op), budget=20_000, seed=5, confidence=0.999,
                       failure=pb.LabelChange(1))
    assert res.ci.low <= exact <= res.ci.high, (exact, res.ci)


def test_substitutions_change_the_symbol_and_leave_padding_alone():
    x = encode(TEXT, 32)
    z = torch.rand(2000, 32, 2, generator=torch.Generator().manual_seed(0))
    z[..., 0] = 0.0  # edit every position
    out = CharEdits(rate=0.5).apply(x, z)
    assert bool((out[:, :25] != x[:25]).all()) and bool((out[:, 25:] == 0).all())
    assert int(out.min()) >= 0 and int(out[:, :25].min()) >= 1 and int(out.max()) <= 27
    assert len(set(out[:, 0].tolist())) == 26  # every other symbol is reached


def test_deletions_shift_the_text_left():
    z = torch.full((1, 8, 2), 0.9)
    z[0, 1, 0] = z[0, 3, 0] = 0.0
    assert decode(CharEdits(rate=0.5, op="delete").apply(encode("probust", 8), z)[0]) == "poust"


def test_spec_round_trip_and_bad_input():
    p = parse_perturbation("char-edits:rate=0.2,op=delete")
    assert p == CharEdits(rate=0.2, op="delete") and parse_perturbation(p.to_spec()) == p
    for bad in ("char-edits:rate=0", "char-edits:rate=0.1,op=swap", "char-edits:rate=0.1,clip=0:1",
                "char-edits:rate=0.1,n_symbols=1.5"):
        with pytest.raises(pb.ConfigurationError):
            parse_perturbation(bad)
    with pytest.raises(pb.InputError, match="1-D tensor of codes"):
        pb.estimate(torch.nn.Flatten().eval(), torch.rand(1, 8, 8), "char-edits:rate=0.1", budget=10)
    with pytest.raises(pb.InputError, match="not in the alphabet"):
        encode("Hello, world")


def test_gradient_estimators_are_refused():
    x = encode(TEXT, 32)
    with pytest.raises(pb.ConfigurationError, match="piecewise constant"):
        pb.estimate(CountEdits(x, 6, "substitute").eval(), x, CharEdits(rate=0.1), estimator="is", budget=500, seed=0,
                    failure=pb.LabelChange(1))
