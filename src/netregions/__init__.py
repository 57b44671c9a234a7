"""netregions: brain networks, regions and functional connectomes from fMRI runs.

Importing the package is cheap on purpose: numba, scikit-learn and matplotlib are imported
only by the modules (and workflow jobs) that use them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
