"""Output regions: scores, combination, description, and the rewriting of linear properties."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import probust as pb
from probust.output_regions import OutputRegion, output_region


def test_score_is_max_over_polytopes_of_min_over_halfspaces():
    region = OutputRegion.polytope([[1.0, 0.0], [0.0, 1.0]], [0.0, -1.0]) | OutputRegion.halfspace([-1.0, 0.0], -5.0)
    y = torch.tensor([[2.0, 3.0], [2.0, 0.5], [-7.0, 0.0]])
    torch.testing.assert_close(region.score(y), torch.tensor([2.0, -0.5, 2.0]))
    assert region.describe() == "output-region:y0>=0 & y1-1>=0 | -y0-5>=0"


def test_boundary_counts_as_failure_and_intersection_distributes():
    region = OutputRegion.halfspace([1.0, -1.0])
    assert float(region.score(torch.tensor([[1.0, 1.0]]))[0]) > 0
    both = (OutputRegion.halfspace([1.0, 0.0]) | OutputRegion.halfspace([0.0, 1.0])) & OutputRegion.halfspace([1, 1])
    assert len(both.polytopes) == 2 and all(len(p) == 2 for p in both.polytopes)


@pytest.mark.parametrize("bad", [(), ((),), (((0.0, 0.0), 1.0),)])
def test_empty_or_degenerate_regions_are_refused(bad):
    with pytest.raises(pb.ConfigurationError):
        OutputRegion(bad if not bad or not bad[0] else (bad,))


def test_wrong_output_count_is_a_model_error():
    with pytest.raises(pb.ModelError, match="3 outputs"):
        OutputRegion.halfspace([1.0, 0.0, 0.0]).score(torch.zeros(4, 2))


@pytest.mark.parametrize("prop", [pb.LabelChange(1), pb.TopK(1, 1), pb.RegressionTolerance(0.5, (0.0, 1.0, 2.0))])
def test_linear_properties_fail_exactly_on_their_region(prop):
    y = torch.randn(5000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    region = output_region(prop, 3)
    assert torch.equal(prop.score(y) > 0, region.score(y) > 0)  # ties have probability 0 here


def test_nonlinear_property_is_refused_by_name():
    with pytest.raises(pb.ConfigurationError, match="not linear"):
        output_region(pb.SoftmaxStability((0.5, 0.5)), 2)


def test_fieldless_property_description_has_no_trailing_colon():
    @dataclasses.dataclass(frozen=True)
    class Positive(pb.properties.Property):
        name = "output-positive"

        def score(self, outputs):
            return outputs[:, 0]

    assert Positive().describe() == "output-positive"
