"""Check the device-side latent path on a GPU: the same numbers as on the CPU, and what it costs.

Uniform latents are counter-based (probust._counter_rng): on a CUDA (or MPS) model they are computed on the
model's device by the torch kernel, and must equal the CPU's numba (or torch) numbers bit for bit. Normal
latents come from torch's sampler on the device: the same per device type, not across types (printed, not
checked). The fused sampler of plain Monte Carlo (``LatentStream.take_affine``) must give the CPU's perturbed
inputs bit for bit too. Then plain Monte Carlo on the device model against its bare forward pass, as in
mc_throughput.py.

Run on a machine with a GPU (prints PASS/FAIL per check; exit code 1 on a mismatch):

    .venv/bin/python benchmarks/device_rng_check.py [--device cuda] [--samples 1048576]

Without a GPU it runs the same code on the CPU with the torch kernel, which is what tests/test_rng.py pins.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import probust as pb
from probust import _counter_rng
from probust.querying import LatentStream


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, fn, repeats: int = 5) -> float:
    fn()  # warm-up (kernel compilation, allocator)
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _synchronize(device)
    return (time.perf_counter() - start) / repeats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    ap.add_argument("--device", default=default)
    ap.add_argument("--samples", type=int, default=1 << 20, help="uniforms per timing call")
    ap.add_argument("--budget", type=int, default=1 << 17, help="Monte Carlo samples for the throughput check")
    args = ap.parse_args()
    device = torch.device(args.device)
    ok = True
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))

    # 1. Bit identity of the counter uniforms, at offsets that start inside a word and far into the stream.
    for key, start, n in ((0, 0, 1000), (2**64 - 1, 1, 4097), (0x1234_5678_9ABC_DEF0, 2**40 + 3, args.samples)):
        cpu = _counter_rng.uniforms(key, start, torch.empty(n))
        dev = _counter_rng.uniforms(key, start, torch.empty(n, device=device), backend="torch")
        same = torch.equal(cpu, dev.cpu())
        ok &= same
        print(f"{'PASS' if same else 'FAIL'} uniforms key={key:#x} start={start} n={n}: device == CPU")

    # 2. A latent stream on the device equals the CPU's, whatever the request sizes.
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    cpu = LatentStream(pert, (1, 28, 28), entropy=2026).take(3000)
    stream = LatentStream(pert, (1, 28, 28), entropy=2026, device=device)
    dev = torch.cat([stream.take(k) for k in (1000, 1, 1999)])
    same = dev.device.type == device.type and torch.equal(cpu, dev.cpu())
    ok &= same
    print(f"{'PASS' if same else 'FAIL'} LatentStream(uniform-linf) on {device} == on the CPU, split 1000+1+1999")
    # The fused sampler of plain MC (clip(lo + width u) without the latents) on the device = the CPU's kernel.
    x = torch.rand(1, 28, 28)
    lo, width = pert.affine_form(x)
    fused = LatentStream(pert, (1, 28, 28), entropy=2026, device=device)
    dev_inputs = torch.cat([fused.take_affine(lo.to(device), width.to(device), pert.clip, k)[0] for k in (1000, 2000)])
    cpu_inputs = LatentStream(pert, (1, 28, 28), entropy=2026).take_affine(lo, width, pert.clip, 3000)[0]
    same = torch.equal(cpu_inputs, dev_inputs.cpu()) and torch.equal(cpu_inputs, pert.apply(x, cpu))
    ok &= same
    print(f"{'PASS' if same else 'FAIL'} fused sampler (take_affine) on {device} == CPU kernel == apply(x, latents)")
    normal = pb.perturbations.Gaussian(sigma=0.1)
    equal = torch.equal(LatentStream(normal, (8,), 1).take(512), LatentStream(normal, (8,), 1, device=device)
                        .take(512).cpu())
    print(f"info normal latents on {device} {'equal' if equal else 'differ from'} the CPU's (per device type)")

    # 3. Cost: generation on the device against generation on the CPU plus the copy to the device.
    out_dev, out_cpu = torch.empty(args.samples, device=device), torch.empty(args.samples)
    t_dev = _timed(device, lambda: _counter_rng.uniforms(5, 0, out_dev, backend="torch"))
    t_cpu = _timed(device, lambda: out_dev.copy_(_counter_rng.uniforms(5, 0, out_cpu)))
    print(f"uniforms: {t_dev / args.samples * 1e9:.3f} ns each on {device}, "
          f"{t_cpu / args.samples * 1e9:.3f} ns on the CPU + copy")

    # 4. Monte Carlo on the device model against its bare forward pass (same batch size).
    batch = 1024
    batches = max(1, args.budget // batch)
    for name in ("mnist-cnn", "mnist-mlp"):
        model = pb.zoo.load_model(name).to(device)
        x, _ = pb.zoo.load_dataset("mnist", split="test")[0]
        inputs = (x + 0.1 * (2 * torch.rand(batch, *x.shape) - 1)).clamp(0, 1).to(device)

        def raw(model=model, inputs=inputs):
            with torch.inference_mode():
                for _ in range(batches):
                    model(inputs)

        def mc(model=model, x=x):
            pb.estimate(model, x, pert, budget=batches * batch, batch_size=batch, seed=0)

        t_raw, t_mc = _timed(device, raw, 3), _timed(device, mc, 3)
        print(f"{name}: MC / raw forward = {t_raw / t_mc:.2f} ({batches * batch / t_mc:,.0f} MC samples/s)")
    print("all checks PASS" if ok else "a check FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
