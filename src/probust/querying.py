"""The model behind one door: device, dtype, batching, query counting and output checks.

Estimators never touch the model. They ask an :class:`Oracle` for the failure scores of latent
points; the oracle pushes the latents through the perturbation, evaluates the model in batches
under ``torch.inference_mode`` (or with gradients when asked), checks every output and counts
queries. Latent samples come from a :class:`LatentStream`, whose numbers depend only on the seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from . import _counter_rng, _rng
from .errors import ConfigurationError, InputError, ModelError
from .perturbations import Perturbation
from .properties import Property
from .result import Counterexample

Model = Callable[[torch.Tensor], torch.Tensor]

#: Upper bound on input elements per batch for the default batch size (about 16 MB of float32 input).
_DEFAULT_BATCH_ELEMENTS = 4_000_000
_MAX_DEFAULT_BATCH = 1024
#: Failing perturbed inputs an oracle keeps (the first ones it meets), for ``Result.counterexamples``.
MAX_COUNTEREXAMPLES = 3


def default_batch_size(x_numel: int) -> int:
    """Default batch size: 1024 inputs, fewer for large inputs so one batch of inputs stays near 16 MB."""
    size = max(1, min(_MAX_DEFAULT_BATCH, _DEFAULT_BATCH_ELEMENTS // max(1, x_numel)))
    # A multiple of the random block size keeps sampling free of leftover blocks.
    return size if size < _rng.BLOCK_SIZE else size - size % _rng.BLOCK_SIZE


def _model_device_dtype(model: Model) -> tuple[torch.device | None, torch.dtype | None]:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            if p.is_floating_point():
                return p.device, p.dtype
    return None, None


@contextmanager
def eval_mode(model: Model) -> Iterator[None]:
    """Put an ``nn.Module`` in eval mode for the call and restore its modes afterwards.

    The mode is read at call time (not at construction, cf. torchattacks #21) and every module's own
    flag is restored, since a model may deliberately keep some submodules in train mode.
    """
    if not isinstance(model, torch.nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    if model.training:
        warnings.warn(
            "the model is in train mode; probust evaluates it in eval mode (dropout off, batch-norm statistics "
            "frozen) and restores the mode afterwards. Call model.eval() to silence this warning.",
            stacklevel=5,  # the caller of probust.estimate / certify
        )
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


#: Fused Monte Carlo scores the outputs of up to this many batches together (Oracle.stream_scores) ...
_GROUP_BATCHES = 16
#: ... while they take less memory than this.
_GROUP_BYTES = 2**20


class LatentStream:
    """Latent samples of one perturbation, a function of the seed and the sample's index alone.

    ``take(n)`` returns the next ``n`` samples, on ``device``. Sample ``i`` is always the same number for a
    given ``(entropy, stream)``, however the requests are split into batches. Uniform latents are
    counter-based uniforms ``i * m ...`` of the stream's key (:mod:`probust._counter_rng`), made on
    ``device`` and the same on every device. Normal latents are drawn in blocks of ``_rng.BLOCK_SIZE``, each
    from torch's sampler on ``device`` seeded by the block's generator (the same per device type).
    (Drawing ahead on a background thread was tried and measured slower: it competes with torch's own
    threads for the two cores.)
    """

    def __init__(
        self,
        perturbation: Perturbation,
        x_shape: tuple[int, ...],
        entropy: int,
        stream: int = 0,
        device: str | torch.device = "cpu",
    ):
        self._perturbation, self._x_shape = perturbation, x_shape
        self._entropy, self._stream, self._device = entropy, stream, torch.device(device)
        self._shape = perturbation.latent_shape(x_shape)
        self._counter = perturbation.latent_law == "uniform"
        self._key = _rng.stream_key(entropy, stream) if self._counter else 0
        self._drawn = 0  # uniform latents: samples drawn so far
        self._next_block = 0  # normal latents: next block, and what is left of the last one
        self._left = torch.empty((0, *self._shape), device=self._device)

    @property
    def counter_based(self) -> bool:
        """Whether the latents are counter-based uniforms (so ``take_affine`` and ``at`` apply)."""
        return self._counter

    def take(self, n: int) -> torch.Tensor:
        if self._counter:
            out = self.at(self._drawn, n)
            self._drawn += n
            return out
        left = len(self._left)
        n_blocks = max(0, math.ceil((n - left) / _rng.BLOCK_SIZE))
        # One buffer filled block by block: no concatenation copies, one allocation per request.
        out = torch.empty((left + n_blocks * _rng.BLOCK_SIZE, *self._shape), device=self._device)
        out[:left] = self._left
        for j in range(n_blocks):
            start = left + j * _rng.BLOCK_SIZE
            generator = _rng.block_generator(self._entropy, self._stream, self._next_block + j)
            self._perturbation.sample_latent(
                _rng.BLOCK_SIZE, self._x_shape, generator, out=out[start : start + _rng.BLOCK_SIZE]
            )
        self._next_block += n_blocks
        self._left = out[n:]
        return out[:n]

    def at(self, first: int, n: int = 1) -> torch.Tensor:
        """Latent samples ``first .. first + n - 1`` of a counter-based stream, wherever the stream stands."""
        if not self._counter:
            raise TypeError("only counter-based (uniform) latent streams are indexed; normal latents come in blocks")
        out = torch.empty((n, *self._shape), device=self._device)
        return _counter_rng.uniforms(self._key, first * math.prod(self._shape), out)

    def take_affine(self, lo: torch.Tensor, width: torch.Tensor, clip: tuple[float, float] | None,
                    n: int) -> tuple[torch.Tensor, int]:
        """The next ``n`` perturbed inputs ``clip(lo + width z)`` of a counter-based stream, without the latents.

        Returns the inputs (float32, on the stream's device) and the index of the first sample, from which
        ``at`` recovers any latent. The same numbers as ``Perturbation.apply`` of ``take(n)``.
        """
        return self.affine_sampler(lo, width, clip)(n)

    def affine_sampler(self, lo: torch.Tensor, width: torch.Tensor,
                       clip: tuple[float, float] | None) -> Callable[[int], tuple[torch.Tensor, int]]:
        """``take_affine`` prepared once for many calls: ``take(n)`` returns ``(inputs, first)`` as it does."""
        if not self._counter:
            raise TypeError("take_affine needs a counter-based (uniform) latent stream")
        fill, per_sample = _counter_rng.affine_sampler(self._key, lo, width, clip), math.prod(self._shape)

        def take(n: int) -> tuple[torch.Tensor, int]:
            first = self._drawn
            out = fill(first * per_sample, torch.empty((n, *lo.shape), device=self._device))
            self._drawn += n
            return out, first
        return take


class Oracle:
    """Failure scores of latent points for one model, input, perturbation and property.

    Parameters
    ----------
    model
        ``torch.nn.Module`` or any callable mapping a batch of inputs to a batch of outputs
        (NumPy outputs are accepted and converted).
    x
        One input, without batch dimension.
    perturbation, failure
        The input model and the failure criterion (resolved against the clean output here).
    budget
        Maximum number of perturbed-input queries; exceeding it is a bug in the estimator.
    batch_size, device, dtype
        Where and how the model runs; defaults come from the model's parameters (else ``x``).
    progress
        Called with the number of new queries after every batch.
    """

    def __init__(
        self,
        model: Model,
        x: torch.Tensor,
        perturbation: Perturbation,
        failure: Property,
        *,
        budget: int,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        progress: Callable[[int], None] | None = None,
    ):
        if not callable(model):
            raise ConfigurationError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        if x.ndim == 0 or x.numel() == 0:
            raise InputError(f"x must be one non-empty input without batch dimension, got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise InputError("x contains NaN or Inf values; clean the input before estimating")
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1):
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        perturbation.check_input(x)
        model_device, model_dtype = _model_device_dtype(model)
        if device is not None and model_device is not None and torch.device(device) != model_device:
            raise ConfigurationError(
                f"device={device!r} but the model's parameters are on {model_device}; move the model first "
                f"(model.to({str(device)!r})) or leave device unset"
            )
        if dtype is not None and model_dtype is not None and dtype != model_dtype:
            raise ConfigurationError(
                f"dtype={dtype} but the model's parameters are {model_dtype}; convert the model first "
                "(e.g. model.float() or model.double()) or leave dtype unset"
            )
        self.device = torch.device(device) if device is not None else (model_device or x.device)
        self.dtype = dtype or model_dtype or x.dtype
        self.model = model
        self.x = x.to(self.device, self.dtype)
        self.perturbation = perturbation
        self.budget = int(budget)
        self.batch_size = int(batch_size) if batch_size is not None else default_batch_size(x.numel())
        self.n_queries = 0
        self.counterexamples: list[Counterexample] = []
        self._progress = progress
        self.clean_output = self._reference_output()
        self.failure = failure.resolve(self.clean_output)
        self.clean_score = float(self.failure.score(self.clean_output)[0])

    @property
    def x_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape)

    @property
    def remaining(self) -> int:
        return self.budget - self.n_queries

    def latent_stream(self, entropy: int, stream: int = 0) -> LatentStream:
        """The latent samples of ``(entropy, stream)``, made on the model's device."""
        return LatentStream(self.perturbation, self.x_shape, entropy, stream, self.device)

    def _reference_output(self) -> torch.Tensor:
        """Model output at the clean input (not counted as a query: it defines the reference)."""
        try:
            with torch.inference_mode():
                out = self.model(self.x.unsqueeze(0))
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise InputError(
                f"the model rejected an input of shape {self.x_shape} (batched as {(1, *self.x_shape)}): "
                f"{str(err).rstrip().rstrip('.')}. "  # one period, whether or not the model's message ends in one
                "Pass x as ONE input without a batch dimension, in the shape the model expects."
            ) from err
        out = self._as_outputs(out, 1)
        self._check_finite(out)
        return out

    def _as_outputs(self, out: object, n: int) -> torch.Tensor:
        """``out`` as a tensor with one row per input (NumPy outputs converted), or a ModelError."""
        if not isinstance(out, torch.Tensor):
            try:
                out = torch.as_tensor(np.asarray(out))
            except (TypeError, ValueError) as err:
                raise ModelError(f"the model returned {type(out).__name__}, not a tensor or array") from err
        if out.ndim == 0 or out.shape[0] != n:
            raise ModelError(
                f"the model returned shape {tuple(out.shape)} for a batch of {n} inputs; "
                "it must return one output row per input (batch dimension first)"
            )
        return out

    def _check_finite(self, out: torch.Tensor) -> None:
        # A sum is finite only if every term is (or it overflowed: then the exact test decides); one reduction
        # instead of a mask and a reduction, a tenth of the cost on a batch of logits.
        if not math.isfinite(float(out.detach().sum())) and not torch.isfinite(out).all():
            raise ModelError(
                "the model returned NaN or Inf outputs; check the model and its input range "
                f"(perturbation {self.perturbation.to_spec()})"
            )

    def _reserve(self, n: int) -> None:
        if n > self.remaining:
            raise RuntimeError(f"estimator bug: {n} queries requested with {self.remaining} left of the budget")

    def _forward(self, z: torch.Tensor) -> torch.Tensor:
        # One reduction (the exact test only if the sum is not finite); the model must never be blamed for this.
        if not math.isfinite(float(z.detach().sum())) and not torch.isfinite(z).all():
            raise RuntimeError("estimator bug: non-finite latent points were about to be passed to the model")
        xp = self.perturbation.apply(self.x, z)
        return self._scores(self._outputs(xp), z.__getitem__, xp.__getitem__)

    def _outputs(self, xp: torch.Tensor) -> torch.Tensor:
        """The model's outputs on the perturbed inputs ``xp`` (one row each; counted as queries)."""
        n = len(xp)
        try:
            out = self.model(xp)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise ModelError(f"the model raised on a batch of {n} perturbed inputs: {err}") from err
        out = self._as_outputs(out, n)
        self.n_queries += n
        if self._progress is not None:
            self._progress(n)
        return out

    def _scores(self, out: torch.Tensor, latent: Callable[[int], torch.Tensor],
                point: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """Scores of outputs ``out``; ``latent(i)``, ``point(i)``: row ``i``'s latent and input (counterexamples)."""
        self._check_finite(out)
        scores = self.failure.score(out)
        if len(self.counterexamples) < MAX_COUNTEREXAMPLES and float(scores.detach().max()) > 0:
            self._keep_counterexamples(latent, point, scores)
        return scores

    def _keep_counterexamples(self, latent: Callable[[int], torch.Tensor], point: Callable[[int], torch.Tensor],
                              scores: torch.Tensor) -> None:
        """Record the first failing inputs of a batch, up to ``MAX_COUNTEREXAMPLES`` in all."""
        failing = torch.nonzero(scores.detach() > 0).flatten()[: MAX_COUNTEREXAMPLES - len(self.counterexamples)]
        for i in failing.tolist():
            self.counterexamples.append(Counterexample(
                latent(i).detach().cpu().tolist(), point(i).detach().cpu().tolist(), float(scores[i].detach())
            ))

    def scores(self, z: torch.Tensor) -> torch.Tensor:
        """Failure scores (float64, on the CPU) of latent points ``z``; costs ``len(z)`` queries."""
        self._reserve(len(z))
        out = []
        with torch.inference_mode():
            for chunk in z.split(self.batch_size):
                out.append(self._forward(chunk.to(self.device)).double().cpu())
        return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)

    def stream_scores(self, latents: LatentStream, n: int) -> Iterator[torch.Tensor]:
        """Scores of the next ``n`` samples of ``latents``, in order, a batch or a few batches at a time.

        Affine uniform families on a float32 model are sampled in one fused pass that never writes the
        latents (``LatentStream.affine_sampler``): the same numbers, a third of the memory traffic. Their
        outputs are then copied into one buffer and checked and scored up to ``_GROUP_BATCHES`` batches at a time
        (at most ``_GROUP_BYTES`` of outputs): right after a forward pass every small tensor operation costs several
        times what it costs warm, and a batch of logits is small, so scoring batches together removes most
        of the per-batch cost. Memory: one batch of inputs, plus the outputs of a group.
        """
        form = self.perturbation.affine_form(self.x) if latents.counter_based else None
        if form is None or self.dtype != torch.float32:
            for start in range(0, n, self.batch_size):
                yield self.scores(latents.take(min(self.batch_size, n - start)))
            return
        take, group, filled, first = latents.affine_sampler(*form, self.perturbation.clip), None, 0, 0
        for start in range(0, n, self.batch_size):
            size = min(self.batch_size, n - start)
            self._reserve(size)
            xp, drawn = take(size)
            with torch.inference_mode():
                out = self._outputs(xp)
                del xp  # freed before the next batch is made, which then reuses its memory
                if group is None:
                    first, group = drawn, out.new_empty((min(n - start, self._group_rows(out)), *out.shape[1:]))
                # Copied, not kept: holding each batch's outputs moved the next batches' buffers in the heap and
                # cost more than the scoring saved (0.1 ms per MLP batch of 1024, measured).
                group[filled : filled + size] = out
                filled += size
                del out
            if filled < len(group):
                continue
            with torch.inference_mode():
                scores = self._scores(group, lambda i, f=first: latents.at(f + i)[0],
                                      lambda i, f=first: self.perturbation.apply(self.x, latents.at(f + i))[0])
            group, filled = None, 0
            yield scores.double().cpu()

    def _group_rows(self, out: torch.Tensor) -> int:
        """Rows of outputs scored together: whole batches, up to ``_GROUP_BATCHES`` of them within ``_GROUP_BYTES``."""
        batch_bytes = self.batch_size * out[0].numel() * out.element_size()
        return self.batch_size * max(1, min(_GROUP_BATCHES, _GROUP_BYTES // max(1, batch_bytes)))

    def scores_and_grads(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Failure scores and their gradients with respect to ``z``; costs ``len(z)`` queries."""
        self._reserve(len(z))
        scores, grads = [], []
        for chunk in z.split(self.batch_size):
            zc = chunk.to(self.device, self.dtype).requires_grad_(True)
            s = self._forward(zc)
            (g,) = torch.autograd.grad(s.sum(), zc)
            scores.append(s.detach().double().cpu())
            grads.append(g.cpu())
        return torch.cat(scores), torch.cat(grads)


def check_budget(budget: object, minimum: int = 1) -> int:
    """Validate a query budget (a positive integer, possibly written as a float like ``1e5``)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer)) or not math.isfinite(budget):
        raise ConfigurationError(f"budget must be a positive integer, got {budget!r}")
    if int(budget) != budget or budget < minimum:
        raise ConfigurationError(f"budget must be an integer >= {minimum}, got {budget!r}")
    return int(budget)
