"""``/metrics``: off by default, and when on, counts what an operator watches."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from goldpath.errors import StoreError
from goldpath.server._metrics import METRIC_NAMES, PrometheusMetrics
from tests.e2e.conftest import make_settings, new_user, open_ws, running
from tests.e2e.test_server_ws import assert_closed

pytestmark = pytest.mark.e2e


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    with running(make_settings(tmp_path)) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert (await client.get("/metrics")).status_code == 404


def test_metrics_and_traces_off_import_neither_library(tmp_path: Path) -> None:
    code = f"""
import json, sys
import goldpath
core = [m for m in sys.modules if m.startswith("opentelemetry")]
from goldpath.server import Settings, create_app
create_app(Settings(data_dir={str(tmp_path)!r}))
ours = ("prometheus_client", "opentelemetry.sdk", "opentelemetry.instrumentation",
        "opentelemetry.exporter")
print(json.dumps([core, [m for m in sys.modules if m.startswith(ours)]]))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # (FastAPI itself imports the OpenTelemetry API when it is installed; the SDK, the
    # instrumentation and the exporter are goldpath's to import, and only when on.)
    assert json.loads(run.stdout) == [[], []]


async def test_a_run_is_counted_from_its_chat_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, metrics=True, messages_per_minute=1)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as client:
            before = await scrape(client)
            assert {name for (name, _) in before} >= {
                "goldpath_ws_connections",
                "goldpath_runs_in_flight",
                "goldpath_runs_total",
            }
            assert before[("goldpath_runs_total", (("status", "ok"),))] == 0
            user = await new_user(client)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                assert (await scrape(client))[("goldpath_ws_connections", ())] == 1
                accepted = await ws.chat("hello")
                frames = await ws.run_to_end(accepted["run_id"])
                await ws.send({"type": "chat", "message": "again"})  # over the 1 a minute
                refused = await ws.recv()
                assert refused["type"] == "error"
                assert refused["code"] == "rate_limited"
            store = srv.app.state.goldpath.store

            async def broken(*args: Any, **kwargs: Any) -> Any:
                raise StoreError("the database is down")

            monkeypatch.setattr(store, "list_threads", broken)
            assert (await client.get("/threads", headers=user.headers)).status_code == 500
            after = await scrape(client)
            scraped = (await client.get("/metrics")).text
    families = {family.name for family in text_string_to_metric_families(scraped)}
    events = [f for f in frames if "offset" in f and f.get("run_id") == accepted["run_id"]]
    assert after[("goldpath_runs_total", (("status", "ok"),))] == 1
    assert after[("goldpath_runs_in_flight", ())] == 0
    assert after[("goldpath_run_duration_seconds_count", ())] == 1
    assert after[("goldpath_first_event_seconds_count", ())] == 1
    assert after[("goldpath_events_total", ())] == len(events)
    assert after[("goldpath_rate_limited_total", (("limit", "messages_per_minute"),))] == 1
    assert after[("goldpath_backend_errors_total", (("backend", "store"),))] == 1
    assert after[("goldpath_ws_connections", ())] == 0  # it closed
    # Every family is exported, even one with no sample yet.
    assert {name.removesuffix("_total") for name in METRIC_NAMES} <= families


def test_resyncs_are_counted_by_reason() -> None:
    metrics = PrometheusMetrics()
    metrics.resynced("behind")
    metrics.resynced("behind")
    metrics.resynced("epoch")
    text = generate_latest(metrics.registry).decode()
    assert samples(text)[("goldpath_resyncs_total", (("reason", "behind"),))] == 2
    assert samples(text)[("goldpath_resyncs_total", (("reason", "epoch"),))] == 1


_WORKER = """
import sys
from goldpath.context import UserExecutionContext
from goldpath.engine import RunOutcome
from goldpath.server._metrics import PrometheusMetrics

metrics = PrometheusMetrics()
metrics.connection_opened()
metrics.watch(UserExecutionContext.create("usr_1", "thr_1"), "supervisor").finished(
    RunOutcome("ok", 20.0)
)
if sys.argv[1] == "stops":
    metrics.close()
"""


def test_with_workers_every_process_is_in_each_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for role in ("stops", "serves"):
        subprocess.run([sys.executable, "-c", _WORKER, role], env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body, content_type = PrometheusMetrics().exposition()
    assert content_type.startswith("text/plain")
    found = samples(body.decode())
    assert found[("goldpath_runs_total", (("status", "ok"),))] == 2
    assert found[("goldpath_run_duration_seconds_count", ())] == 2
    assert found[("goldpath_ws_connections", ())] == 1  # the stopped process's is gone
    assert found[("goldpath_runs_in_flight", ())] == 0


DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def test_the_example_dashboard_names_only_metrics_that_exist() -> None:
    exported = set()
    for family in text_string_to_metric_families(
        generate_latest(PrometheusMetrics().registry).decode()
    ):
        exported.add(family.name)
        suffixes = ("_total",) if family.type == "counter" else ("_bucket", "_count", "_sum")
        exported.update(family.name + suffix for suffix in suffixes)
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {name for expr in expressions for name in re.findall(r"\bgoldpath_\w+", expr)}
    assert named, "the dashboard queries no goldpath metric"
    assert named <= exported, f"the dashboard names metrics that do not exist: {named - exported}"
    assert {name.removesuffix("_total") for name in METRIC_NAMES} <= {
        re.sub(r"_(total|bucket|count|sum)$", "", name) for name in named
    }, "a metric is missing from the dashboard"


async def test_a_connection_over_the_users_cap_counts_as_rate_limited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics=True, max_connections_per_user=1)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as client:
            user = await new_user(client)
            first, _ = await open_ws(srv, user)
            async with first.connection:
                extra, _ = await open_ws(srv, user, ready=False)
                await assert_closed(extra, 4429)
                found = await scrape(client)
    assert found[("goldpath_rate_limited_total", (("limit", "connections_per_user"),))] == 1
