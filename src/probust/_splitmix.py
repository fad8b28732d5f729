"""The constants of SplitMix64 (Steele, Lea & Flood, OOPSLA 2014; finaliser: Stafford's "Mix13"), shared by the
torch kernel (:mod:`probust._counter_rng`) and the numba kernels (:mod:`probust._counter_numba`)."""

GAMMA = 0x9E3779B97F4A7C15  # 2^64 / golden ratio, odd
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
#: A uniform is a 24-bit integer m times 2^-24: the float32 grid k / 2^24.
SCALE = 2.0**-24
