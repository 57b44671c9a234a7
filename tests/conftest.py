"""Shared fixtures: every test makes its own small data from a local, seeded generator."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator per test (no global seeding)."""
    return np.random.default_rng(20261125)
