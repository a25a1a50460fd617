"""FLOPs cross-check: does a training run's recorded size agree with the GPU-hours it was charged?

A dense transformer trained on D tokens with N parameters costs about ``6·N·D`` FLOPs (forward
and backward pass). Divided by what the GPUs could have delivered in the GPU-hours allocated to
the run, that gives the implied model-FLOPs utilisation (MFU). Real runs land around 0.3-0.6;
far outside the configured band (default 0.05-0.80) the run's GPU-hours, tokens or parameter
count are probably wrong (a mis-tagged job, a manifest counting tokens twice...).
"""

from __future__ import annotations

from decimal import Decimal

# Dense BF16 peak, TFLOP/s per GPU (vendor datasheets; sparsity not counted).
DEFAULT_GPU_PEAK_TFLOPS: dict[str, Decimal] = {
    "a100": Decimal("312"),
    "h100": Decimal("989"),
    "h200": Decimal("989"),
    "b200": Decimal("2250"),
}
DEFAULT_MFU_BAND = (Decimal("0.05"), Decimal("0.80"))


def implied_mfu(parameters: int, tokens: int, gpu_hours: Decimal, peak_tflops: Decimal) -> Decimal:
    """``6·N·D / (GPU-hours x 3600 x peak FLOP/s)``, exact (Decimal, no float).

    Raises ``ValueError`` if GPU-hours or the peak are not positive: there is no utilisation
    to speak of.
    """
    gpu_hours, peak_tflops = Decimal(gpu_hours), Decimal(peak_tflops)
    if gpu_hours <= 0 or peak_tflops <= 0:
        raise ValueError(f"gpu_hours ({gpu_hours}) and peak_tflops ({peak_tflops}) must be > 0")
    available = gpu_hours * 3600 * peak_tflops * Decimal(10) ** 12
    return Decimal(6) * parameters * tokens / available


def outside_band(mfu: Decimal, band: tuple[Decimal, Decimal] = DEFAULT_MFU_BAND) -> bool:
    """True if ``mfu`` is below the band's low end or above its high end."""
    low, high = band
    return mfu < low or mfu > high
