"""Counter-based uniforms (probust._counter_rng) and the latent stream built on them.

Statistical checks run at a fixed seed, so they are deterministic; their level (alpha = 1e-4 each) is what
a generator with the right law would fail at, so a failure means a wrong law, not bad luck.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

import probust as pb
from probust import _counter_rng, _rng
from probust.perturbations import Box, UniformL2, UniformLinf
from probust.querying import LatentStream

ALPHA = 1e-4
MASK = (1 << 64) - 1


def splitmix64(seed: int, n: int) -> list[int]:
    """Reference SplitMix64 (Steele, Lea & Flood 2014) in Python integers."""
    out, state = [], seed
    for _ in range(n):
        state = (state + _counter_rng.GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def backends() -> list[str]:
    return ["torch"] + (["numba"] if _counter_rng._numba_kernels() is not None else [])


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("key", [0, 1, 2**63 - 1, 2**64 - 1])
def test_uniforms_are_splitmix64_words_cut_in_two(backend, key):
    words = splitmix64(key, 5)
    expected = [b for w in words for b in (w >> 40, (w >> 16) & 0xFFFFFF)]
    assert splitmix64(0, 1)[0] == 0xE220A8397B1DCDAF  # the published first output for seed 0
    got = _counter_rng.uniforms(key, 0, torch.empty(10), backend=backend)
    assert torch.equal(got, torch.tensor(expected, dtype=torch.float32) * 2.0**-24)


@pytest.mark.portability
@pytest.mark.parametrize("start, n", [(0, 0), (0, 1), (1, 1), (3, 4), (7, 1001), (2**40 + 1, 64), (0, 200_000)])
def test_numba_and_torch_agree_bit_for_bit_at_any_offset(start, n):
    if _counter_rng._numba_kernels() is None:
        pytest.skip("numba is not installed")
    key = 0x0123456789ABCDEF
    a = _counter_rng.uniforms(key, start, torch.empty(n), backend="numba")
    b = _counter_rng.uniforms(key, start, torch.empty(n), backend="torch")
    assert torch.equal(a, b)
    whole = _counter_rng.uniforms(key, start - start % 2, torch.empty(n + 2))
    assert torch.equal(whole[start % 2 : start % 2 + n], a)  # a uniform depends on its index only


def test_a_non_contiguous_output_is_filled_in_c_order():
    out = torch.empty(6, 4).t()
    _counter_rng.uniforms(9, 0, out)
    assert torch.equal(out, _counter_rng.uniforms(9, 0, torch.empty(4, 6)))


def test_bad_arguments_are_rejected():
    with pytest.raises(TypeError, match="float32"):
        _counter_rng.uniforms(1, 0, torch.empty(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="64-bit"):
        _counter_rng.uniforms(2**64, 0, torch.empty(3))


def test_the_law_is_uniform_on_the_float32_grid():
    u = _counter_rng.uniforms(_rng.stream_key(2026, 0), 0, torch.empty(2**18)).double().numpy()
    m = u * 2**24
    assert np.array_equal(m, np.floor(m)) and m.min() >= 0 and m.max() <= 2**24 - 1  # the grid k / 2^24
    assert stats.kstest(u, "uniform").pvalue > ALPHA
    # The fine structure: the lowest 8 of the 24 bits are uniform too (256 cells).
    assert stats.chisquare(np.bincount(m.astype(np.int64) % 256, minlength=256)).pvalue > ALPHA
    # The two uniforms cut from one word are independent (16 x 16 cells of the pair).
    pairs = np.floor(u.reshape(-1, 2) * 16).astype(np.int64)
    assert stats.chisquare(np.bincount(pairs[:, 0] * 16 + pairs[:, 1], minlength=256)).pvalue > ALPHA


def test_streams_and_seeds_are_independent():
    a, b, c = (_counter_rng.uniforms(_rng.stream_key(e, s), 0, torch.empty(2**16)).double().numpy()
               for e, s in ((5, 0), (5, 1), (6, 0)))
    for x, y in ((a, b), (a, c)):
        # Under independence sqrt(n) * Pearson r is ~N(0, 1).
        r = np.corrcoef(x, y)[0, 1]
        assert 2 * stats.norm.sf(abs(r) * np.sqrt(len(x))) > ALPHA
        assert stats.ks_2samp(x, y).pvalue > ALPHA


@pytest.mark.portability
@pytest.mark.parametrize("pert, x_shape", [(UniformLinf(eps=0.1), (7,)), (UniformLinf(eps=0.1), (1, 4, 4)),
                                           (UniformL2(eps=1.0), (7,))], ids=["uniform-odd", "uniform", "normal"])
def test_same_seed_same_samples_at_any_request_sizes(pert, x_shape):
    whole = LatentStream(pert, x_shape, entropy=123).take(1000)
    stream = LatentStream(pert, x_shape, entropy=123)
    assert torch.equal(whole, torch.cat([stream.take(k) for k in (1, 255, 256, 300, 0, 188)]))
    assert not torch.equal(whole, LatentStream(pert, x_shape, entropy=124).take(1000))
    assert not torch.equal(whole, LatentStream(pert, x_shape, entropy=123, stream=1).take(1000))


def test_the_device_path_gives_the_cpu_numbers(monkeypatch):
    """On a GPU the torch kernel runs; here it runs on the CPU through the same code (numba switched off)."""
    pert = UniformLinf(eps=0.1)
    cpu = LatentStream(pert, (3, 5), entropy=7).take(777)
    monkeypatch.setattr(_counter_rng, "_numba_kernels", lambda: None)
    stream = LatentStream(pert, (3, 5), entropy=7, device="cpu")
    assert torch.equal(torch.cat([stream.take(500), stream.take(277)]), cpu)


def test_sample_latent_fills_out_on_its_device_from_one_key():
    pert = UniformLinf(eps=0.1)
    z = pert.sample_latent(10, (3,), np.random.default_rng(4))
    key = int(np.random.default_rng(4).integers(2**63))
    assert z.dtype == torch.float32 and torch.equal(z, _counter_rng.uniforms(key, 0, torch.empty(10, 3)))


@pytest.mark.portability
@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("pert", [UniformLinf(eps=0.1, clip=(0.1, 0.7)), UniformLinf(eps=[0.05, 0.2, 0.3] * 5),
                                  Box(lo=0.0, hi=1.0)], ids=["clipped", "per-coordinate", "box"])
def test_the_fused_sampler_gives_apply_of_the_latents(pert, backend, monkeypatch):
    """take_affine = apply(x, take(n)) bit for bit, at any request sizes."""
    if backend == "torch":
        monkeypatch.setattr(_counter_rng, "_numba_kernels", lambda: None)
    x = torch.linspace(0.25, 0.75, 15).reshape(3, 5)
    z = LatentStream(pert, (3, 5), entropy=7).take(1001)
    stream = LatentStream(pert, (3, 5), entropy=7)
    parts = [stream.take_affine(*pert.affine_form(x), pert.clip, k) for k in (600, 1, 400)]
    assert [first for _, first in parts] == [0, 600, 601]
    assert torch.equal(torch.cat([xp for xp, _ in parts]), pert.apply(x, z))
    assert torch.equal(stream.at(700, 3), z[700:703])


def test_mc_counterexamples_are_apply_of_their_latents():
    """Plain MC samples in the fused pass; the latents it reports are recomputed from their index."""
    model = torch.nn.Linear(4, 2).eval()  # logits (0, x_0 - 0.25): label 1 at x, failure iff x'_0 < 0.25
    model.weight.data, model.bias.data = torch.zeros(2, 4), torch.tensor([0.0, -0.25])
    model.weight.data[1, 0] = 1.0
    x = torch.full((4,), 0.5)
    pert = UniformLinf(eps=0.5, clip=(0, 1))
    res = pb.estimate(model, x, pert, budget=2000, seed=3, batch_size=300)
    assert len(res.counterexamples) == 3
    for ce in res.counterexamples:
        assert torch.equal(pert.apply(x, torch.tensor([ce.latent])), torch.tensor([ce.input]))


@pytest.mark.parametrize("batch_size", [1, 7, 300, 5000])
def test_fused_mc_scores_groups_of_batches_as_the_unfused_path_scores_each(batch_size, monkeypatch):
    """The fused path copies batches' outputs into groups and scores a group at once (a partial last batch and
    group included): the same failures, maximum score and counterexamples as sampling the latents unfused."""
    model = torch.nn.Linear(4, 2).eval()  # failure iff x'_0 < 0.25, as above
    model.weight.data, model.bias.data = torch.zeros(2, 4), torch.tensor([0.0, -0.25])
    model.weight.data[1, 0] = 1.0
    x, pert = torch.full((4,), 0.5), UniformLinf(eps=0.5, clip=(0, 1))
    fused = pb.estimate(model, x, pert, budget=5000, seed=3, batch_size=batch_size)
    monkeypatch.setattr(UniformLinf, "affine_form", lambda self, x: None)
    unfused = pb.estimate(model, x, pert, budget=5000, seed=3, batch_size=batch_size)
    assert fused.diagnostics == unfused.diagnostics and 1000 < fused.diagnostics["n_failures"] < 1500
    assert fused.counterexamples == unfused.counterexamples


def test_normal_streams_are_not_indexed():
    stream = LatentStream(UniformL2(eps=1.0), (3,), entropy=1)
    with pytest.raises(TypeError, match="counter-based"):
        stream.at(0)
    with pytest.raises(TypeError, match="counter-based"):
        stream.take_affine(torch.zeros(3), torch.ones(3), None, 2)


def numba_kernels():
    kernels = _counter_rng._numba_kernels()
    if kernels is None:
        pytest.skip("numba is not installed")
    return kernels


@pytest.mark.parametrize("parts", [2, 3])
def test_the_threaded_kernels_give_the_one_thread_numbers(parts):
    """Split over threads (what large batches get when torch has several threads): the same numbers."""
    kernels = numba_kernels()
    kernels.parallel_parts(2)  # the pool starts as probust starts it (keeping torch's thread count)
    key, n = np.uint64(0xFEEDFACE), 3 * 7 * 1001
    for start in (0, 1, 2**40 + 3):
        one, split = np.empty(n, np.float32), np.empty(n, np.float32)
        kernels.fill(key, start, one)
        kernels.fill_parallel(key, start, split, parts)
        assert np.array_equal(one, split)
        lo, width = np.linspace(-0.1, 0.9, 21, dtype=np.float32), np.full(21, 0.2, np.float32)
        args = (key, start, lo, width, np.float32(0.0), np.float32(1.0))
        kernels.affine(*args, one)
        kernels.affine_parallel(*args, split, parts)
        assert np.array_equal(one, split)


def test_large_requests_use_torch_s_threads_but_never_in_a_forked_child(monkeypatch):
    kernels = numba_kernels()
    assert kernels.parallel_parts(1) == 1
    threads = kernels.parallel_parts(2)
    assert threads in (1, 2)  # 1 where numba has no thread-safe layer (OpenMP or TBB)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert _counter_rng._parts(kernels, _counter_rng._PARALLEL_MIN - 1) == 1  # small: one thread
    assert _counter_rng._parts(kernels, _counter_rng._PARALLEL_MIN) == threads
    real_pid = kernels.os.getpid()
    monkeypatch.setattr(kernels.os, "getpid", lambda: real_pid + 1)
    assert kernels.parallel_parts(2) == 1


_THREADS_CHECK = """
import sys, numba, torch
threads = int(sys.argv[1]) if sys.argv[1] != "more" else numba.config.NUMBA_NUM_THREADS + 1
torch.set_num_threads(threads)
import probust as pb
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
pb.estimate(model, torch.rand(1, 28, 28), "uniform-linf:eps=0.1,clip=0:1", budget=2048, batch_size=1024, seed=0)
try:
    layer = numba.threading_layer()
except ValueError:
    layer = None
print(threads, torch.get_num_threads(), layer)
"""


@pytest.mark.parametrize("threads", ["1", "more"])
def test_sampling_leaves_torch_s_thread_count_alone(threads):
    """Starting numba's pool sets the thread count of the OpenMP runtime it shares with torch to numba's (the
    core count); probust puts torch's back, and with one torch thread never starts the pool (not even on import).
    "more": one thread more than numba's count, so that the start changes it. A fresh process: the pool starts
    once per process."""
    numba_kernels()
    out = subprocess.run([sys.executable, "-c", _THREADS_CHECK, threads], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[1] == out[0]
    assert (out[2] == "None") == (threads == "1")
