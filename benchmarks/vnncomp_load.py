"""VNN-COMP networks loaded by probust: how many become torch layers, and how far they are from onnxruntime.

    python benchmarks/vnncomp_load.py /tmp/vnncomp2021/benchmarks [--samples 16]

The argument is the ``benchmarks`` folder of a VNN-COMP repository (e.g. stanleybak/vnncomp2021, extracted; nothing
of it is shipped). Every ``.onnx`` / ``.onnx.gz`` network under each benchmark is loaded with ``pb.load_model``;
the table lists, per benchmark, the networks converted to layers (an ``nn.Sequential`` chain or a
``torch.fx.GraphModule``) out of those present, the reason each other one stays an onnxruntime model, and
max |probust - onnxruntime| / max |onnxruntime| over ``--samples`` inputs drawn uniformly from the box of the
network's first VNNLIB property in the benchmark's instances CSV (uniform on [-1, 1] without one).
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from pathlib import Path

import torch

import probust as pb
from probust._onnx import OnnxModel


def first_specs(bench: Path) -> dict[Path, Path]:
    """The first VNNLIB property of each network named in the benchmark's instance CSVs."""
    specs: dict[Path, Path] = {}
    for table in sorted(bench.glob("*.csv")):
        with table.open() as handle:
            for row in csv.reader(handle):
                if len(row) >= 2 and row[0].strip().endswith((".onnx", ".onnx.gz")):
                    specs.setdefault((bench / row[0].strip()).resolve(), bench / row[1].strip())
    return specs


def inputs(model, spec: Path | None, n: int, dtype: torch.dtype) -> torch.Tensor:
    """``n`` inputs uniform in the box of ``spec``'s first property (else on [-1, 1]), in the model's shape."""
    shape = tuple(model.input_shape)
    gen = torch.Generator().manual_seed(0)
    if spec is None or not spec.is_file():
        return (torch.rand(n, *shape, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    case = pb.read_vnnlib(spec)[0]
    lo, hi = torch.tensor(case.lo, dtype=torch.float64), torch.tensor(case.hi, dtype=torch.float64)
    return (lo + (hi - lo) * torch.rand(n, len(lo), generator=gen, dtype=torch.float64)).reshape(n, *shape).to(dtype)


def measure(path: Path, spec: Path | None, n: int) -> tuple[str, float | None, float]:
    """(what the network became, or why not; max relative error against onnxruntime; seconds to load)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's warning: its reason is in conversion_error
        model = pb.load_model(path)
    seconds = time.perf_counter() - start
    if not isinstance(model, torch.nn.Module):
        return f"onnxruntime: {model.conversion_error}", None, seconds
    dtype = next(model.parameters()).dtype
    x = inputs(model, spec, n, dtype)
    with torch.no_grad():
        mine, theirs = model(x), OnnxModel(path)(x).to(dtype)
    error = float((mine - theirs).abs().max() / theirs.abs().max().clamp_min(torch.finfo(dtype).tiny))
    kind = "Sequential" if isinstance(model, torch.nn.Sequential) else "GraphModule"
    return f"{kind} ({str(dtype).removeprefix('torch.')})", error, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="the benchmarks folder of a VNN-COMP repository")
    parser.add_argument("--samples", type=int, default=16, help="inputs compared per network (default 16)")
    args = parser.parse_args()
    print(f"{'network':48} {'loaded as':28} {'max rel err':>11} {'load s':>7}")
    summary = []
    for bench in sorted(p for p in args.suite.iterdir() if p.is_dir()):
        specs = first_specs(bench)
        nets = sorted(p for p in bench.rglob("*") if p.name.endswith((".onnx", ".onnx.gz")))
        named = {p for p in specs if p.suffix in (".onnx", ".gz")}
        missing = sorted(p.name for p in named - {n.resolve() for n in nets})
        layers, worst, blocked = 0, 0.0, []
        for net in nets:
            what, error, seconds = measure(net, specs.get(net.resolve()), args.samples)
            layers += error is not None
            worst = max(worst, error or 0.0)
            if error is None:
                blocked.append(f"{net.name}: {what.removeprefix('onnxruntime: ')}")
            shown = f"{error:11.1e}" if error is not None else f"{'-':>11}"
            print(f"{bench.name + '/' + net.name:48.48} {what[:28]:28} {shown} {seconds:7.1f}")
        summary.append((bench.name, layers, len(nets), worst if layers else None, missing, blocked))
    print(f"\n{'benchmark':18} {'as layers':>9} {'max rel err':>11}  networks absent / blocked")
    for name, layers, total, worst, missing, blocked in summary:
        notes = ([f"{len(missing)} named in the CSV but absent"] if missing else []) + blocked
        shown = f"{worst:11.1e}" if worst is not None else f"{'-':>11}"
        print(f"{name:18} {f'{layers}/{total}':>9} {shown}  {'; '.join(notes)}")
    loaded, total = sum(s[1] for s in summary), sum(s[2] for s in summary)
    print(f"{'all':18} {f'{loaded}/{total}':>9}")


if __name__ == "__main__":
    main()
