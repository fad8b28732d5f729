"""The PR-Bench protocol, store, scoring and command line: seeds, resumption, metrics, exit codes."""

from __future__ import annotations

import json
import math

import pytest

from probust import cli
from probust.bench import protocol as pr
from probust.bench.cases import CASES, Gold, select_cases
from probust.bench.leaderboard import (
    HEADERS,
    decision_cells,
    html_page,
    is_decision,
    load,
    markdown,
    row_cells,
    split,
)
from probust.bench.scoring import CellScore, score_cell, summarize
from probust.bench.store import BenchStore
from probust.errors import ConfigurationError

SMALL = ["linear/gaussian/d10/p1e-03", "linear/uniform-linf/d2/p1e-01"]
ESTIMATORS = ["mc", "proven"]
PROTOCOL = pr.Protocol(repeats=2, budget=2_000)


def test_seeds_depend_only_on_case_and_repetition():
    a = pr.case_seed("linear/gaussian/d10/p1e-03", 0)
    assert a == pr.case_seed("linear/gaussian/d10/p1e-03", 0)
    assert len({a, pr.case_seed("linear/gaussian/d10/p1e-03", 1), pr.case_seed("x", 0)}) == 3


def test_case_selection_by_id_suite_and_wildcard():
    assert [c.id for c in select_cases(SMALL[:1])] == SMALL[:1]
    assert {c.suite for c in select_cases(["relu"])} == {"relu"}
    assert all(c.id.startswith("linear/gaussian/") for c in select_cases(["linear/gaussian/*"]))
    assert all(c.quick for c in select_cases(quick=True))
    with pytest.raises(ConfigurationError):
        select_cases(["no-such-case"])


def test_every_registered_estimator_is_run_by_default():
    from probust.estimators import ESTIMATORS as registry

    assert pr.resolve_estimators(None) == registry.ready() == [n for n in registry if n != "sequential"]


def test_estimator_specs_are_cells_of_their_own():
    assert pr.resolve_estimators(["amls:rho=0.1", "amls", "amls:n_steps=5"]) == ["amls", "amls:n_steps=5"]


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_without_recomputing_finished_cells(tmp_path):
    """Stop after 3 cells; the rerun computes exactly the other cells and leaves the first 3 untouched."""
    cases = select_cases(SMALL)
    total = len(cases) * len(ESTIMATORS) * PROTOCOL.repeats
    db = tmp_path / "bench.db"
    seen = []

    def stop_after_three(cell, status, computed):
        seen.append(cell.key)
        if len(seen) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does between two cells

    with BenchStore(db) as store, pytest.raises(KeyboardInterrupt):
        pr.run_bench(store, cases, ESTIMATORS, PROTOCOL, on_cell=stop_after_three)
    with BenchStore(db) as store:
        first = {tuple(r[k] for k in ("case_id", "estimator", "repetition")): r for r in store.cells()}
        assert len(first) == 3
        computed_keys = []
        _, computed = pr.run_bench(store, cases, ESTIMATORS, PROTOCOL,
                                   on_cell=lambda c, s, new: new and computed_keys.append(c.key))
        assert computed == total - 3 and set(computed_keys).isdisjoint(seen)
        rows = {tuple(r[k] for k in ("case_id", "estimator", "repetition")): r for r in store.cells()}
        assert len(rows) == total
        for key, row in first.items():
            assert rows[key] == row  # not recomputed: same result and same finishing time
        _, again = pr.run_bench(store, cases, ESTIMATORS, PROTOCOL)
        assert again == 0


def test_results_do_not_depend_on_the_rest_of_the_run(tmp_path):
    """A cell computed in a run of one case equals the same cell computed in a run of two."""
    with BenchStore(tmp_path / "a.db") as a, BenchStore(tmp_path / "b.db") as b:
        pr.run_bench(a, select_cases(SMALL[:1]), ["mc"], PROTOCOL)
        pr.run_bench(b, select_cases(SMALL), ["mc", "proven"], PROTOCOL)
        ra = {r["repetition"]: json.loads(r["result"]) for r in a.cells()}
        rb = {r["repetition"]: json.loads(r["result"]) for r in b.cells()
              if r["case_id"] == SMALL[0] and r["estimator"] == "mc"}
        for rep in ra:
            assert ra[rep]["failure_probability"] == rb[rep]["failure_probability"]
            assert ra[rep]["seed"] == rb[rep]["seed"] == pr.case_seed(SMALL[0], rep)


def test_unsupported_and_failing_estimators_are_recorded_not_raised(tmp_path):
    case = CASES["linear/gaussian/d10/p1e-03"]  # PROVEN needs bounded noise
    with BenchStore(tmp_path / "u.db") as store:
        pr.run_bench(store, [case], ["proven"], pr.Protocol(repeats=1, budget=100))
        (row,) = store.cells()
    assert row["status"] == "unsupported" and "bounded" in row["message"]


def _cell(**kw) -> CellScore:
    base = dict(case_id="c", suite="linear", estimator="e", repetition=0, status="ok", gold=1e-3)
    return CellScore(**{**base, **kw})


def test_scoring_of_errors_coverage_and_violations():
    cells = [
        _cell(repetition=0, p_hat=1e-3, ci_low=5e-4, ci_high=2e-3, bound_kind="confidence-interval", covered=True),
        _cell(repetition=1, p_hat=1e-2, ci_low=5e-3, ci_high=2e-2, bound_kind="confidence-interval", covered=False),
        _cell(repetition=2, p_hat=0.0, ci_low=0.0, ci_high=1e-4, bound_kind="confidence-interval", covered=False),
        _cell(estimator="b", p_hat=2e-3, ci_low=0, ci_high=2e-3, bound_kind="deterministic", violation=False),
        _cell(estimator="b", repetition=1, p_hat=5e-4, ci_low=0, ci_high=5e-4, bound_kind="deterministic",
              violation=True),
        _cell(estimator="b", repetition=2, status="unsupported"),
    ]
    rows = {r.estimator: r for r in summarize(cells)}
    e, b = rows["e"], rows["b"]
    assert e.median_abs_log10_error == pytest.approx(1.0) and math.isinf(e.worst_abs_log10_error)
    assert (e.covered, e.coverage_cells, e.zeros) == (1, 3, 1)
    assert e.coverage_low < 1 / 3 < e.coverage_high
    assert e.median_rel_rmse == pytest.approx(math.sqrt((0 + 81 + 1) / 3))
    assert (b.violations, b.bound_cells, b.cells_unsupported, b.coverage_cells) == (1, 2, 1, 0)


def test_hard_landscape_coverage_and_unreliable_cells_have_their_own_columns():
    interval = dict(bound_kind="confidence-interval", p_hat=1e-3, ci_low=5e-4, ci_high=2e-3)
    cells = [
        _cell(suite="landscape", repetition=0, covered=True, **interval),
        _cell(suite="landscape", repetition=1, covered=False, unreliable=True, **interval),
        _cell(suite="linear", repetition=2, covered=True, **interval),
        _cell(estimator="b", suite="linear", covered=True, unreliable=True, **interval),
    ]
    rows = {r.estimator: r for r in summarize(cells)}
    e, b = rows["e"], rows["b"]
    assert (e.covered, e.coverage_cells, e.landscape_covered, e.landscape_cells, e.unreliable) == (2, 3, 1, 2, 1)
    assert e.landscape_low < e.landscape_coverage == 0.5 < e.landscape_high
    assert (b.landscape_cells, b.unreliable) == (0, 1) and math.isnan(b.landscape_coverage)
    column = {name: k for k, name in enumerate(HEADERS)}
    assert list(HEADERS[:5]) == ["estimator", "median |log10 err|", "worst", "median rel. RMSE", "coverage (95% CI)"]
    for r in (e, b):
        assert len(row_cells(r, 0.95)) == len(HEADERS)
    assert row_cells(e, 0.95)[column["hard-landscape coverage"]].startswith("0.50 [0.01,0.99] n=2")
    assert row_cells(b, 0.95)[column["hard-landscape coverage"]] == "-"
    assert row_cells(e, 0.95)[column["unreliable"]] == row_cells(b, 0.95)[column["unreliable"]] == "1"


def test_decision_procedures_are_ranked_apart_from_the_estimators():
    robust = dict(bound_kind="pac", p_hat=0.0, ci_low=0.0, ci_high=0.01, covered=True)
    cells = [_cell(estimator="provero", repetition=0, **robust),  # a yes/no test, far "off" in |log10 err|
             _cell(estimator="provero", repetition=1, bound_kind="pac", p_hat=0.0, ci_low=0.0, ci_high=1.0,
                   covered=True),  # undecided
             _cell(estimator="mc", bound_kind="confidence-interval", p_hat=1e-3, ci_low=5e-4, ci_high=2e-3,
                   covered=True)]
    rows, decisions = split(summarize(cells))
    assert [r.estimator for r in rows] == ["mc"] and [r.estimator for r in decisions] == ["provero"]
    assert decision_cells(decisions[0], cells)[:3] == ["provero", "1.00 [0.16,1.00] n=2", "1"]
    assert is_decision("sequential") and is_decision("provero:theta=0.05") and not is_decision("amls")
    assert not is_decision("custom-name")


def test_unreliable_is_read_from_the_stored_result_status():
    case = CASES["linear/uniform-linf/d2/p1e-01"]
    res = {"failure_probability": 0.1, "ci": {"low": 0.05, "high": 0.2}, "bound_kind": "confidence-interval",
           "n_queries": 10, "seconds": 0.1, "warnings": ["w"], "status": "unreliable"}
    row = {"estimator": "x", "repetition": 0, "status": "ok", "message": None, "result": json.dumps(res)}
    assert score_cell(row, case).unreliable
    assert not score_cell({**row, "result": json.dumps({**res, "status": "complete"})}, case).unreliable
    del res["status"]  # a result stored before statuses existed
    assert not score_cell({**row, "result": json.dumps(res)}, case).unreliable


def test_violation_is_judged_against_the_lower_end_of_the_gold():
    case = CASES["linear/uniform-linf/d2/p1e-01"]
    res = {"failure_probability": 0.1, "ci": {"low": 0.0, "high": case.gold.low * (1 - 1e-9)},
           "bound_kind": "deterministic", "n_queries": 0, "seconds": 0.0, "warnings": []}
    row = {"estimator": "x", "repetition": 0, "status": "ok", "message": None, "result": json.dumps(res)}
    assert score_cell(row, case).violation
    res["ci"]["high"] = case.gold.low
    assert not score_cell({**row, "result": json.dumps(res)}, case).violation


def test_gold_precision():
    g = Gold(0.01, 0.009, 0.011, "mc", "statistical", 0.999)
    assert g.rel_halfwidth == pytest.approx(0.1)


def test_cli_run_leaderboard_and_files(tmp_path, capsys):
    db, md, page = tmp_path / "b.db", tmp_path / "b.md", tmp_path / "b.html"
    assert cli.main(["bench", "run", "--cases", *SMALL, "--estimators", "mc,proven", "--repeats", "1",
                     "--budget", "1000", "--db", str(db), "--quiet"]) == 0
    assert "2 of 4 cells" not in capsys.readouterr().out
    assert cli.main(["bench", "leaderboard", "--db", str(db), "--markdown", str(md), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "mc" in out and "proven" in out
    assert md.read_text().startswith("# PR-Bench leaderboard") and "| mc |" in md.read_text()
    text = page.read_text()
    assert "data:image/png;base64," in text and "<table>" in text
    with BenchStore(db) as store:
        rid, config, cells = load(store)
    assert len(cells) == 4 and rid in markdown(rid, config, cells) and rid in html_page(rid, config, cells)


@pytest.mark.parametrize("argv", [
    ["bench", "run", "--estimators", "nope", "--db", "{db}"],
    ["bench", "run", "--cases", "nope", "--db", "{db}"],
    ["bench", "run", "--repeats", "0", "--db", "{db}"],
    ["bench", "run", "--budget", "0", "--db", "{db}"],
    ["bench", "leaderboard", "--db", "{missing}"],
    ["bench", "leaderboard", "--db", "{db}", "--html", "{nodir}"],
    ["bench"],
])
def test_cli_usage_errors_exit_2_with_one_line(argv, tmp_path, capsys):
    paths = {"db": tmp_path / "x.db", "missing": tmp_path / "missing.db", "nodir": tmp_path / "no" / "x.html"}
    BenchStore(paths["db"]).close()
    argv = [a.format(**paths) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_model_based_cells_are_keyed_by_the_version_of_the_parts_and_replicas_defaults():
    """Those defaults change what a default run computes without being hyper-parameters: old cells must not be
    reused for them; exact and sound estimators are keyed by their hyper-parameters alone."""
    from probust.bench.protocol import cell_params
    from probust.estimators import PLAN_DEFAULTS, get_estimator

    assert cell_params(get_estimator("amls"))["plan_defaults"] == PLAN_DEFAULTS
    assert cell_params(get_estimator("mc")) == get_estimator("mc").params()
