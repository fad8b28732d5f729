"""``probust case-study acasxu``: the ACAS Xu case study, from sensor noise to a system-level claim.

Example::

    probust case-study acasxu --out runs/acasxu            # the full study (minutes on 2 cores)
    probust case-study acasxu --out runs/acasxu-quick --quick

The campaigns live in ``OUT/study.db``: an interrupted study resumes where it stopped (Ctrl-C loses at most
the demand in flight). The report files are written, each atomically, once every part has finished.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from .. import _commands
from ..errors import ConfigurationError
from ..intervals import check_confidence
from . import acasxu
from .run import QUICK, run_study
from .study import Settings

__all__ = ["case_study_command", "register"]


def register(commands: Any) -> None:
    """Add ``probust case-study`` to the ``probust`` sub-commands."""
    p = commands.add_parser("case-study", help="end-to-end case studies (acasxu: sensor noise -> pfd / PFH claim, "
                                               "formal properties, 1oo2, GSN)",
                            description="The ACAS Xu collision-avoidance networks as a system: per-demand hazard "
                                        "probability under sensor noise, pfd and PFH bounds under encounter profiles, "
                                        "the Reluplex properties by branch and bound against published verdicts, "
                                        "a 1oo2 alternative, and an HTML / JSON / GSN report "
                                        "(docs/case-study-acasxu.md).")
    p.add_argument("study", choices=("acasxu",), help="the case study")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the database and the report (resumable)")
    p.add_argument("--quick", action="store_true", help="a reduced study (about a minute): fewer demands, samples and "
                                                        "properties, wider intervals")
    p.add_argument("--demands", type=_commands.count, help=f"demands per campaign (default {Settings.demands})")
    p.add_argument("--samples", type=_commands.count, help=f"noise draws per demand (default {Settings.samples})")
    p.add_argument("--profile", choices=sorted(acasxu.PROFILES), help=f"nominal profile (default {Settings.profile})")
    p.add_argument("--target-pfh", type=float, help=f"tolerable hazardous advisories per flight hour "
                                                    f"(default {Settings.target_pfh:g})")
    p.add_argument("--encounters-per-hour", type=float,
                   help=f"encounters per flight hour (default {Settings.encounters_per_hour:g})")
    p.add_argument("--confidence", type=float, help=f"confidence of every bound (default {Settings.confidence:g})")
    p.add_argument("--properties", type=_commands.count, metavar="N",
                   help="check N of the 186 property instances (default: all; --quick: 4)")
    p.add_argument("--seed", type=int, help="seed of the demands and the noise (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=case_study_command)


def _settings(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else Settings()
    given = {"demands": args.demands, "samples": args.samples, "profile": args.profile, "target_pfh": args.target_pfh,
             "encounters_per_hour": args.encounters_per_hour, "confidence": args.confidence,
             "phi_instances": args.properties, "seed": args.seed}
    settings = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
    check_confidence(settings.confidence)
    if settings.demands < 2 or settings.samples < 1:
        raise ConfigurationError(f"--demands must be >= 2 and --samples >= 1, got {settings.demands} and "
                                 f"{settings.samples}")
    if not 0 < settings.target_pfh < 1:
        raise ConfigurationError(f"--target-pfh must be in (0, 1) per flight hour, got {settings.target_pfh:g}")
    if settings.encounters_per_hour <= 0:
        raise ConfigurationError(f"--encounters-per-hour must be > 0, got {settings.encounters_per_hour:g}")
    if settings.seed < 0:
        raise ConfigurationError(f"--seed must be >= 0, got {settings.seed}")
    if settings.profile in settings.alternatives:
        settings = dataclasses.replace(settings, alternatives=tuple(
            p for p in acasxu.PROFILES if p != settings.profile))
    return settings


def case_study_command(args: argparse.Namespace, argv: list[str]) -> int:
    settings = _settings(args)
    console = _commands.stdout_console()
    with _commands.progress_bar(args.quiet, unit="demands") as (bar, first):
        tasks: dict[str, Any] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total) if tasks else first
            bar.update(tasks[name], description=name, total=total, completed=done)

        report = run_study(settings, args.out, progress)
    claim, sens = report["claim"], report["sensitivity"]
    pfd = claim["pfd"]
    verdict = "supported" if claim["supported"] else "refuted" if claim["refuted"] else "not supported"
    console.print(f"pfd {pfd['pfd']:.3g} (upper {pfd['ci']['high']:.3g}, lower {pfd['lower']:.3g} at "
                  f"{claim['confidence']:g}); PFH upper {claim['pfh_upper']:.3g} per flight hour; target "
                  f"{settings.target_pfh:g}: {verdict}; {claim['sil']['name']}; dominant assumption: "
                  f"{sens['dominant']}")
    props = report["properties"]
    console.print(f"properties: {sum(p['verdict'] == 'proved' for p in props)} proved, "
                  f"{sum(p['verdict'].startswith('violated') for p in props)} violated, "
                  f"{sum(p['verdict'] == 'undecided' for p in props)} undecided of {len(props)}; "
                  f"{sum(p['contradiction'] for p in props)} contradictions with published verdicts")
    console.print(f"report: {args.out}/report.html (report.json, gsn.yaml, reliability.html) in "
                  f"{report['seconds']:.0f} s")
    return 0
