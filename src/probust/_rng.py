"""Seeds and random streams.

All randomness in probust descends from one integer *entropy* per call (the user's ``seed``).
Uniform latents of a stream are counter-based (:mod:`probust._counter_rng`): uniform ``i`` of stream
``stream`` is a function of ``(stream_key(entropy, stream), i)`` alone, computed on the model's device.
Other random numbers are drawn in fixed-size **blocks**, each from its own numpy ``Generator`` (PCG64)
seeded by ``SeedSequence(entropy, spawn_key=(stream, block_index))``.
Because neither depends on the batch size, the same seed gives the same samples whatever the batch size;
uniforms are the same on every device, blocks of normals the same per device type (docs/design.md).
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ConfigurationError

#: Number of latent samples drawn per random block (independent of the model's batch size).
BLOCK_SIZE = 256

def resolve_seed(seed: int | torch.Generator | None) -> int:
    """Turn the user's ``seed`` argument into a non-negative integer entropy.

    ``None`` draws fresh OS entropy (recorded in the result, so the run can be repeated);
    a ``torch.Generator`` is consumed once to produce the entropy.
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**62, (1,), generator=seed).item())
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise ConfigurationError(f"seed must be an int, a torch.Generator or None, got {seed!r}")
    if seed < 0:
        raise ConfigurationError(f"seed must be non-negative, got {seed}")
    return int(seed)


def derive_seed(entropy: int, *keys: int) -> int:
    """A 63-bit seed for the child stream ``keys`` of ``entropy`` (e.g. one input of a campaign)."""
    if entropy < 0 or any(k < 0 for k in keys):
        raise ConfigurationError(f"seeds and stream keys must be non-negative, got {entropy} and {keys}")
    state = np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in keys)).generate_state(2, np.uint64)
    return int((int(state[0]) << 1 ^ int(state[1])) % (2**63))


def stream_key(entropy: int, stream: int) -> int:
    """The 64-bit key of the counter-based uniforms of stream ``stream`` (one SeedSequence per stream)."""
    if entropy < 0 or stream < 0:
        raise ConfigurationError(f"seeds and stream keys must be non-negative, got {entropy} and {stream}")
    return int(np.random.SeedSequence(entropy, spawn_key=(stream,)).generate_state(1, np.uint64)[0])


def block_generator(entropy: int, stream: int, block: int) -> np.random.Generator:
    """The generator of random block ``block`` in stream ``stream``."""
    if entropy < 0 or stream < 0 or block < 0:
        raise ConfigurationError(f"seeds and stream keys must be non-negative, got {entropy}, {stream}, {block}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(stream, block))))
