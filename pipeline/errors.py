"""Errors meant for people: each carries one line that names the column, file or version at fault.

The CLI prints ``str(error)`` and exits non-zero; a traceback only appears with ``--debug``.
"""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first line of an error's text (its type name when it has none): what people see."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class PipelineError(Exception):
    """A failure the user can act on. The message is one line."""

    exit_code = 1


class ConfigError(PipelineError):
    """The settings in pyproject.toml or the environment are wrong."""

    exit_code = 2


class DataError(PipelineError):
    """A batch file is unreadable or does not match the model's schema."""

    exit_code = 3


class RegistryError(PipelineError):
    """MLflow is unreachable, or a model, version, alias or run does not exist."""

    exit_code = 4


class GateError(PipelineError):
    """A promotion was refused by a gate."""

    exit_code = 5


class BusyError(PipelineError):
    """Another run of the same model is under way (it holds the model's run lock)."""

    exit_code = 6
