"""FLOPs cross-check maths, on published figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger.flops import DEFAULT_GPU_PEAK_TFLOPS, implied_mfu, outside_band


def test_llama2_7b_implied_utilisation_is_about_0_41():
    """Llama 2 7B (Touvron et al. 2023): 7e9 parameters, 2e12 tokens, 184,320 A100 GPU-hours.

    6 x 7e9 x 2e12 = 8.4e22 FLOPs; 184,320 h x 3600 s x 312e12 FLOP/s = 2.07028e23 FLOPs
    available -> 8.4e22 / 2.07028e23 = 0.405742...
    """
    mfu = implied_mfu(7 * 10**9, 2 * 10**12, Decimal(184_320), DEFAULT_GPU_PEAK_TFLOPS["a100"])
    assert mfu.quantize(Decimal("0.0001")) == Decimal("0.4057")
    assert not outside_band(mfu)


def test_band_edges_and_bad_inputs():
    assert outside_band(Decimal("0.049"))
    assert outside_band(Decimal("0.81"))
    assert not outside_band(Decimal("0.05")) and not outside_band(Decimal("0.80"))
    # The same run charged a tenth of the GPU-hours implies an impossible 4.06 utilisation.
    assert outside_band(implied_mfu(7 * 10**9, 2 * 10**12, Decimal(18_432), Decimal(312)))
    with pytest.raises(ValueError, match="must be > 0"):
        implied_mfu(1, 1, Decimal(0), Decimal(312))
