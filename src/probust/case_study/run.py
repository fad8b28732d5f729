"""Run the whole ACAS Xu case study into a folder: database, JSON, HTML report, GSN fragment.

``run_study(settings, out)`` is what ``probust case-study acasxu --out DIR`` calls. Every campaign lives in
``DIR/study.db`` (resumable: a second call reuses the finished demands); the outputs are written atomically
at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._files import write_bytes_atomic, write_json_atomic, write_text_atomic
from .._version import __version__
from ..campaign import ResultsStore
from ..hardware import hardware
from ..reliability import gsn_argument, to_gsn_yaml, validate_gsn
from ..reliability.report import write_html
from . import acasxu
from .report import case_nodes, html_report
from .study import (
    Progress,
    Settings,
    Variant,
    check_properties,
    claim,
    next_band,
    pair,
    run_variant,
    second_channel_bytes,
    summarise_variants,
    train_second_channel,
)

__all__ = ["QUICK", "run_study"]

#: The reduced study of the test suite and of ``--quick``: minutes become seconds, the numbers stay honest
#: (wider intervals, a few properties).
QUICK = Settings(demands=60, samples=200, phi_instances=4, phi_boxes=512, pair_demands=40, pair_training_states=3000,
                 pair_epochs=3)


def run_study(settings: Settings, out: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run (or resume) the study; write ``report.json``, ``report.html``, ``gsn.yaml`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    nominal = acasxu.PROFILES[settings.profile]
    noise = acasxu.NOMINAL_NOISE
    with ResultsStore(out / "study.db") as store:
        variants = [run_variant(store, "nominal", nominal, noise, settings, progress=progress)]
        variants += [run_variant(store, f"noise x{f:g}", nominal, noise.scaled(f), settings, progress=progress)
                     for f in settings.noise_factors]
        variants += [run_variant(store, f"profile {name}", acasxu.PROFILES[name], noise, settings, progress=progress)
                     for name in settings.alternatives]
        second, training = train_second_channel(settings)
        weights = second_channel_bytes(second)
        write_bytes_atomic(out / "second-channel.pt", weights)
        # the campaigns of the second channel are tied to its weights: a retrained channel is a new campaign
        tag = f"second channel sha256 {hashlib.sha256(weights).hexdigest()[:16]}"
        training["sha256"] = hashlib.sha256(weights).hexdigest()
        on_n11 = dataclasses.replace(nominal, name=f"{nominal.name}, N_1,1 only", prev=(1.0, 0, 0, 0, 0),
                                     tau=(1.0,) + (0.0,) * 8)
        pairs = {
            name: run_variant(store, name, on_n11, noise, settings, channels=channels, channel_names=names,
                              demands=settings.pair_demands, progress=progress)
            for name, channels, names in (
                ("pair: N_1,1", None, ("N_1,1",)),
                ("pair: second", lambda p, t: [second], (tag,)),
                ("pair: 1oo2", lambda p, t: [acasxu.network(p, t), second], ("N_1,1", tag)),
            )
        }
        demands = nominal.sample(settings.demands, np.random.default_rng(settings.seed))
        properties = check_properties(settings, store, demands, progress)
    pair_figures = pair(pairs)
    main = variants[0]
    the_claim = claim(settings, main)
    sensitivity = summarise_variants(settings, variants)
    change = next_band(settings, the_claim)
    nodes = case_nodes(gsn_argument(the_claim, record_url="report.json"), settings, properties, pair_figures)
    problems = validate_gsn(nodes)
    report = {
        "study": "acasxu", "probust_version": __version__, "settings": dataclasses.asdict(settings),
        "hardware": hardware(), "seconds": time.perf_counter() - start,
        "noise": {"sigma": noise.sigma, "units": acasxu.UNITS, "source": noise.source},
        "profiles": {name: {"description": p.description, "table": p.table()} for name, p in acasxu.PROFILES.items()},
        "severity": [dict(zip(("noise_free", "noisy", "effect", "class"), row, strict=True))
                     for row in acasxu.SEVERITY],
        "claim": the_claim.to_dict(), "sensitivity": sensitivity, "what_would_change_the_claim": change,
        "properties": properties, "pair": {**pair_figures, "second_channel": training},
        "campaigns": {v.name: _campaign(v) for v in [*variants, *pairs.values()]},
        "gsn": nodes, "gsn_problems": problems,
    }
    write_json_atomic(out / "report.json", report)
    write_text_atomic(out / "gsn.yaml", to_gsn_yaml(nodes, "ACAS Xu case study, written by probust"))
    write_text_atomic(out / "report.html", html_report(report, the_claim))
    write_html(the_claim, nodes, out / "reliability.html")
    return report


def _campaign(v: Variant) -> dict[str, Any]:
    """A campaign's identity and its per-demand figures, compactly (one list per column)."""
    return {"campaign": v.campaign, "profile": v.profile, "noise_sigma": v.noise.sigma, "channels": list(v.channels),
            "pfd": v.pfd.to_dict(), "seconds": v.seconds,
            "theta": [round(t, 6) for t in v.thetas.tolist()], "reference_advisory": list(v.references),
            "queries": [r.n_queries for r in v.results]}
