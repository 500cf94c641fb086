"""Synthetic county systems: nightly exports that follow the county export specification v1.

    from xuncha_sim.generator import generate
    truth = generate(Path("out"), profile="seed", seed=0, faults=["all"])

See docs/export-spec.md for the format and profiles.py for what each profile simulates.
"""

from __future__ import annotations

from .calibrate import CalibrationError
from .faults import KINDS as FAULT_KINDS
from .profiles import PROFILES
from .run import generate

__all__ = ["generate", "PROFILES", "FAULT_KINDS", "CalibrationError"]
