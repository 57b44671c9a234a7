"""Exceptions raised for bad inputs and configuration."""

__all__ = ["ConfigError", "InputDataError"]


class InputDataError(ValueError):
    """An input file (image or confounds) is missing, unreadable or inconsistent.

    The message names the subject, the file and what is wrong, on one line.
    """


class ConfigError(ValueError):
    """A configuration value is invalid in a way the JSON schema cannot express."""
