"""AG-UI: the CPU the AG-UI transport adds to a chat, beside the /ws frames it presents.

The golden path's events (agent_started, a thought, one calculator call and its result,
a 20-delta answer, agent_completed) are mapped to AG-UI 1.0 events and framed as SSE, as
``POST /ag-ui`` does for each run; /ws sends each event's frame, encoded once when the
event was made, as it is. Only the AG-UI responses pay this; /ws and HTTP runs do not.
The median of ``--repeat`` rounds of ``--runs`` runs is reported. With --update-docs the
results replace the "AG-UI transport" section of docs/benchmarks.md.

    /work/venv/bin/python bench/agui_mapping.py --runs 5000 --repeat 5 --update-docs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from goldpath.events import (
    AgentCompleted,
    AgentStarted,
    AgentThinking,
    Event,
    EventData,
    MessageDelta,
    ToolCompleted,
    ToolExecuting,
)
from goldpath.server._agui_mapping import RunMapping, sse

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## AG-UI transport"
TS = "2026-12-04T18:00:00.000000Z"


def golden_run() -> list[Event]:
    steps: list[EventData] = [
        AgentStarted("What is 17 * 23?"),
        AgentThinking("This is arithmetic; I will ask the calculator for 17 * 23."),
        ToolExecuting("call_1", "calculator", {"expression": "17 * 23"}),
        ToolCompleted("call_1", "calculator", True, 0.2, 391),
        *[MessageDelta(f"word{n} ") for n in range(20)],
        AgentCompleted("ok", 3.0, text="".join(f"word{n} " for n in range(20))),
    ]
    return [Event(n, "run_1", "thr_1", "supervisor", TS, data) for n, data in enumerate(steps, 1)]


def one_round(events: list[Event], runs: int) -> tuple[float, int]:
    """CPU seconds for ``runs`` runs mapped and framed, and the AG-UI events of one run."""
    made = 0
    started = time.process_time()
    for _ in range(runs):
        mapping = RunMapping("client-thread", "client-run")
        made = 0
        for event in events:
            for agui in mapping.map(event):
                sse("epoch", agui)
                made += 1
    return time.process_time() - started, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    events = golden_run()
    for agui_check in RunMapping("t", "r").map(events[0]):
        json.loads(agui_check.json)  # the output is JSON: a broken mapping stops here
    one_round(events, 200)  # warm-up
    rounds = [one_round(events, args.runs) for _ in range(args.repeat)]
    seconds = statistics.median(cpu for cpu, _ in rounds)
    made = rounds[0][1]
    per_run_us = seconds / args.runs * 1e6
    body = (
        f"{SECTION}\n\n"
        f"`/work/venv/bin/python bench/agui_mapping.py --runs {args.runs} "
        f"--repeat {args.repeat} --update-docs`\n\n"
        "| what | CPU |\n|---|---|\n"
        f"| one golden-path run ({len(events)} goldpath events → {made} AG-UI events), "
        f"mapped and framed as SSE | {per_run_us:.0f} µs |\n"
        f"| per goldpath event | {per_run_us / len(events):.2f} µs |\n"
        f"| per AG-UI event | {per_run_us / made:.2f} µs |\n\n"
        "Median of the rounds' CPU time. Only `POST /ag-ui` and `GET /ag-ui/runs/{runId}/events` "
        "responses pay it, once per response: the run, the user stream and `/ws` are "
        "unchanged.\n"
    )
    print(body)
    if args.update_docs:
        update_docs(body)


def update_docs(body: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, nothing else."""
    text = DOCS.read_text("utf-8")
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[end + 1 :] if end != -1 else "")
    DOCS.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
