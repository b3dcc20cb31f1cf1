"""The app ``goldpath serve --app module:attribute`` (or ``GOLDPATH_APP``) names, loaded.

The attribute is the app or a function of no arguments that returns it. The working
directory is put on the import path first, as uvicorn does, so ``--app myapp:app`` finds
``./myapp.py``. Whatever goes wrong is one `ConfigurationError` line, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import traceback
from pathlib import Path

from starlette.applications import Starlette

from goldpath.errors import ConfigurationError

__all__ = ["app_from_settings", "load_app"]

_GOLDPATH = str(Path(__file__).resolve().parents[1])
_NOT_YOURS = tuple(
    {_GOLDPATH, *(sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib"))}
)


def load_app(spec: str) -> Starlette:
    """The app ``spec`` (``module:attribute``) names; `ConfigurationError` says what is wrong."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"the app {spec!r} is not module:attribute; write it as e.g. myproject.server:app"
        )
    where = f"cannot load the app {spec!r}"
    working_directory = os.getcwd()
    if working_directory not in sys.path:
        sys.path.insert(0, working_directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
            raise ConfigurationError(
                f"{where}: there is no module {module_name!r}; check the name, and run "
                f"goldpath serve where it can be imported from ({working_directory} is on "
                "the import path)"
            ) from None
        raise ConfigurationError(f"{where}: importing {module_name!r} {_failure(exc)}") from None
    except Exception as exc:
        raise ConfigurationError(f"{where}: importing {module_name!r} {_failure(exc)}") from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(
                f"{where}: module {module_name!r} ({module.__file__}) has no attribute "
                f"{attribute!r}"
            ) from None
    if isinstance(found, Starlette):
        return found
    if not callable(found):
        raise ConfigurationError(
            f"{where}: {attribute!r} is a {type(found).__name__}, not an app or a function "
            "that returns one (such as create_app(...) or a function calling it)"
        )
    try:
        made = found()
    except Exception as exc:
        raise ConfigurationError(f"{where}: calling {attribute}() {_failure(exc)}") from None
    if not isinstance(made, Starlette):
        raise ConfigurationError(
            f"{where}: {attribute}() returned a {type(made).__name__}, not an app; return "
            "create_app(...)"
        )
    return made


def app_from_settings() -> Starlette:
    """The app of ``GOLDPATH_APP``, or goldpath's own; for uvicorn's ``--reload`` and
    ``--workers``, which import the app by name in each process they start."""
    from goldpath._gc import tune_gc
    from goldpath.server._app import create_app
    from goldpath.server._logging import configure_logging
    from goldpath.server._settings import Settings

    tune_gc()  # a new process: goldpath serve's collector setting (goldpath/_gc.py)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)  # a new process: its own
    return load_app(settings.app) if settings.app else create_app(settings)


def _failure(exc: Exception) -> str:
    """``raised Type: message (file, line N)``: the error and where in your code it came from."""
    if isinstance(exc, SyntaxError):
        return f"raised SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    yours = [f for f in frames if not f.filename.startswith(("<", *_NOT_YOURS))]
    frame = (yours or frames)[-1]
    message = " ".join(str(exc).split())
    error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"raised {error} ({frame.filename}, line {frame.lineno})"
