"""server/_loader.py: ``--app module:attribute`` loads your app, or says in one line why not."""

from __future__ import annotations

import gc
import os
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from goldpath._gc import GC_THRESHOLDS
from goldpath.errors import ConfigurationError
from goldpath.server._loader import app_from_settings, load_app

pytestmark = pytest.mark.unit

SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"

WriteModule = Callable[[str], tuple[str, Path]]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteModule]:
    """Writes a module of the given source into the working directory; returns its name and
    file. The import path and the imported modules are restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    names: list[str] = []

    def write(source: str) -> tuple[str, Path]:
        name = f"yourapp_{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source).format(data_dir=str(tmp_path), secret=SECRET))
        names.append(name)
        return name, path

    yield write
    for name in names:
        sys.modules.pop(name, None)


APP = """\
from goldpath.server import Settings, create_app

def make_app():
    return create_app(Settings(data_dir={data_dir!r}, secret_key={secret!r}))

app = make_app()
number = 7
"""


def failure(spec: str) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_app(spec)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_the_attribute_is_the_app(write_module: WriteModule) -> None:
    name, _ = write_module(APP)
    app = load_app(f"{name}:app")
    assert isinstance(app, FastAPI)
    assert app is sys.modules[name].app
    assert os.getcwd() in sys.path  # the working directory is on the import path


def test_the_attribute_is_a_function_returning_the_app(write_module: WriteModule) -> None:
    name, _ = write_module(APP)
    made = load_app(f"{name}:make_app")
    assert isinstance(made, FastAPI)
    assert made is not sys.modules[name].app


def test_a_spec_without_attribute() -> None:
    assert failure("yourapp") == (
        "the app 'yourapp' is not module:attribute; write it as e.g. myproject.server:app"
    )
    assert failure(":app").startswith("the app ':app' is not module:attribute")


def test_a_missing_module(write_module: WriteModule) -> None:
    write_module(APP)  # only to be in a clean working directory
    assert failure("no_such_module.server:app") == (
        "cannot load the app 'no_such_module.server:app': there is no module "
        "'no_such_module.server'; check the name, and run goldpath serve where it can be "
        f"imported from ({os.getcwd()} is on the import path)"
    )


def test_a_missing_attribute(write_module: WriteModule) -> None:
    name, path = write_module(APP)
    assert failure(f"{name}:application") == (
        f"cannot load the app '{name}:application': module '{name}' ({path}) has no "
        "attribute 'application'"
    )


def test_an_attribute_that_is_no_app(write_module: WriteModule) -> None:
    name, _ = write_module(APP)
    assert failure(f"{name}:number") == (
        f"cannot load the app '{name}:number': 'number' is a int, not an app or a function "
        "that returns one (such as create_app(...) or a function calling it)"
    )


def test_a_function_that_returns_no_app(write_module: WriteModule) -> None:
    name, _ = write_module("def make_app():\n    return 'an app'\n")
    assert failure(f"{name}:make_app") == (
        f"cannot load the app '{name}:make_app': make_app() returned a str, not an app; "
        "return create_app(...)"
    )


def test_a_function_that_raises(write_module: WriteModule) -> None:
    name, path = write_module("def make_app():\n    raise RuntimeError('no config')\n")
    assert failure(f"{name}:make_app") == (
        f"cannot load the app '{name}:make_app': calling make_app() raised RuntimeError: "
        f"no config ({path}, line 2)"
    )


def test_a_module_that_fails_on_import(write_module: WriteModule) -> None:
    name, path = write_module("import os\n\nratio = 1 / 0\n")
    assert failure(f"{name}:app") == (
        f"cannot load the app '{name}:app': importing '{name}' raised ZeroDivisionError: "
        f"division by zero ({path}, line 3)"
    )


def test_a_module_that_imports_a_missing_module(write_module: WriteModule) -> None:
    name, path = write_module("import not_installed_anywhere\n")
    assert failure(f"{name}:app") == (
        f"cannot load the app '{name}:app': importing '{name}' raised ModuleNotFoundError: "
        f"No module named 'not_installed_anywhere' ({path}, line 1)"
    )


def test_a_module_with_a_syntax_error(write_module: WriteModule) -> None:
    name, path = write_module("x = 1\ny = = 2\n")
    assert failure(f"{name}:app") == (
        f"cannot load the app '{name}:app': importing '{name}' raised SyntaxError: "
        f"invalid syntax ({path}, line 2)"
    )


def test_an_error_inside_goldpath_points_at_your_line(write_module: WriteModule) -> None:
    name, path = write_module(
        """\
        from goldpath import Agent
        from goldpath.server import Settings, create_app


        class One(Agent):
            name = "helper"


        class Two(Agent):
            name = "helper"


        app = create_app(Settings(data_dir={data_dir!r}, secret_key={secret!r}), agents=[One, Two])
        """
    )
    assert failure(f"{name}:app") == (
        f"cannot load the app '{name}:app': importing '{name}' raised RegistryError: two "
        "agents are named 'helper' (One and Two); give each agent its own name "
        f"({path}, line 13)"
    )


def test_a_tool_goldpath_cannot_describe(write_module: WriteModule) -> None:
    name, path = write_module(
        """\
        from goldpath import tool


        @tool
        async def tags(names: set[str]) -> str:
            return ", ".join(sorted(names))
        """
    )
    message = failure(f"{name}:app")
    assert message == (
        f"cannot load the app '{name}:app': importing '{name}' raised ToolDefinitionError: a "
        "tool parameter cannot be set[str]: use str, int, float, bool, Literal, list[...], "
        f"dict[str, ...], Optional[...] or Any ({path}, line 4)"
    )


def test_app_from_settings(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch) -> None:
    name, _ = write_module(APP)
    monkeypatch.setenv("GOLDPATH_APP", f"{name}:app")
    assert app_from_settings() is sys.modules[name].app
    monkeypatch.delenv("GOLDPATH_APP")
    monkeypatch.setenv("GOLDPATH_DATA_DIR", os.getcwd())
    monkeypatch.setenv("GOLDPATH_SECRET_KEY", SECRET)
    gc.set_threshold(700, 10, 10)
    own = app_from_settings()
    assert isinstance(own, FastAPI)
    assert gc.get_threshold() == GC_THRESHOLDS  # each process --workers starts tunes its own
    assert own is not sys.modules[name].app
