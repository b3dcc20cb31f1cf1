"""goldpath's AG-UI resume extension: a run's AG-UI events again, from where a client left.

A run's events are found where they are (`known_events`): the store holds those written
so far (in batches, the rest with the run's end), and the user's stream holds the recent
ones. The two are joined at the last stored offset, so the result is the run's events in
order, as they were sent, each with the epoch of the stream that gave its offset.
`RunMapping` over them gives the same AG-UI events, ids and offsets as the live response
gave, so `ResumedRun` sends exactly the ones after the client's position, then live ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from goldpath.engine import PausedRun
from goldpath.errors import SubscriptionClosedError
from goldpath.events import (
    AgentCompleted,
    ApprovalRequested,
    Event,
    decode_event,
    utc_timestamp,
)
from goldpath.server._agui_mapping import (
    AguiEvent,
    RunMapping,
    interrupted,
    messages_snapshot,
    sse,
)
from goldpath.store import PausedRunRecord, RunEventRecord, RunRecord, Store
from goldpath.stream import Replay, Subscription, UserStream

__all__ = [
    "END_CHECK_SECONDS",
    "KnownEvents",
    "ResumedRun",
    "SourcedEvent",
    "known_events",
    "request_of",
    "terminal_of",
]

logger = logging.getLogger("goldpath.server.agui")

PAGE = 1000
END_CHECK_SECONDS = 5.0
"""How often a response waiting for a run's end asks the store whether it ended."""


@dataclass(frozen=True, slots=True)
class SourcedEvent:
    """A goldpath event of the run and the epoch of the stream offset it was sent with."""

    epoch: str
    event: Event


@dataclass(frozen=True, slots=True)
class KnownEvents:
    """The run's events known now, oldest first. ``complete``: they are every event of the
    run from its first up to now, with none missing; otherwise some could not be found."""

    events: list[SourcedEvent]
    complete: bool


async def _stored(store: Store, user_id: str, run_id: str) -> list[RunEventRecord]:
    records: list[RunEventRecord] = []
    while True:
        after = records[-1].offset if records else 0
        page = await store.list_run_events(user_id, run_id, after=after, limit=PAGE)
        records += page
        if len(page) < PAGE:
            return records


async def known_events(
    store: Store,
    stream: UserStream,
    epoch: str,
    user_id: str,
    run: RunRecord,
    window: int,
) -> KnownEvents:
    """The run's events from the store and, after the last stored one, from the stream's
    history in ``epoch`` (the current one); ``window`` is how many of the newest events the
    stream always holds, where a run with nothing stored yet is looked for."""
    stored = await _stored(store, user_id, run.run_id)
    events = [SourcedEvent(r.epoch, decode_event(r.frame)) for r in stored]
    complete = [r.seq for r in stored] == list(range(1, len(stored) + 1))
    last = events[-1].event.type if events else None
    if last == "agent_completed" or (last == "approval_requested" and run.status == "waiting"):
        return KnownEvents(events, complete)  # nothing comes after them (for now)
    if stored and stored[-1].epoch != epoch:
        return KnownEvents(events, False)  # the stream lost what came after them
    _, newest = await stream.position()
    after = stored[-1].offset if stored else max(0, newest - window)
    answer = await stream.read_after(epoch, after)
    if not isinstance(answer, Replay):
        return KnownEvents(events, False)
    tail = [SourcedEvent(epoch, e) for e in answer.events if e.run_id == run.run_id]
    if not stored and (not tail or tail[0].event.type != "agent_started"):
        # Its first events are older than the window (a run's task emits agent_started
        # at once, long before a client can ask for it again).
        complete = False
    return KnownEvents(events + tail, complete)


def terminal_of(run: RunRecord, epoch: str) -> SourcedEvent:
    """The run's ``agent_completed`` as its stored record tells it, for a finished run whose
    own event is not known (not stored yet, or never sent by a process that died)."""
    assert run.status != "running"
    assert run.status != "waiting"
    completed = AgentCompleted(
        status=run.status,
        duration_ms=0.0,
        text=run.result_text,
        error=run.error,
    )
    ts = utc_timestamp(run.finished_at)
    return SourcedEvent(epoch, Event(0, run.run_id, run.thread_id, run.agent, ts, completed))


def request_of(paused: PausedRunRecord, epoch: str) -> SourcedEvent:
    """The ``approval_requested`` of a waiting run as the store tells it, for a run whose
    own event is not known (never sent by a process that died as the run paused)."""
    state = PausedRun.from_json(paused.state)
    asked = ApprovalRequested(paused.call_id, state.tool, state.args)
    run = paused.run
    return SourcedEvent(
        epoch, Event(0, run.run_id, run.thread_id, run.agent, utc_timestamp(), asked)
    )


class ResumedRun:
    """One resumed response: the run's known events after the client's position, then live."""

    __slots__ = (
        "_after",
        "_client",
        "_end_check",
        "_run",
        "_store",
        "_stream",
        "_sub",
        "_user_id",
        "_window",
    )

    def __init__(
        self,
        store: Store,
        stream: UserStream,
        subscription: Subscription,
        user_id: str,
        run: RunRecord,
        client: tuple[str, str],
        *,
        window: int,
        after_answers: int = 0,
        end_check: float = END_CHECK_SECONDS,
    ) -> None:
        """``subscription`` is to ``stream``, made before anything is read; ``client`` the
        client's (threadId, runId) of the AG-UI run that ``after_answers`` picks of the
        run's (`RunMapping`); ``window`` how many events the stream always holds."""
        self._store = store
        self._stream = stream
        self._sub = subscription
        self._user_id = user_id
        self._run = run
        self._client = client
        self._window = window
        self._after = after_answers
        self._end_check = end_check

    async def events(self, position: tuple[str, int] | None) -> AsyncIterator[str]:
        sub, mapping = self._sub, self._mapping()
        last = f"{sub.epoch}:0"
        try:
            known = await self._known()
            numbered = [(s.epoch, agui) for s in known.events for agui in mapping.map(s.event)]
            start = _start(numbered, position) if known.complete else None
            if start is None:
                async for chunk in self._snapshot(known.events):
                    yield chunk
                return
            for epoch, agui in numbered[start:]:
                last = f"{epoch}:{agui.offset}"
                yield sse(epoch, agui)
            newest = known.events[-1] if known.events else None
            while not mapping.finished:
                event = await sub.get()
                if event.run_id != self._run.run_id:
                    continue
                if (
                    newest is not None
                    and newest.epoch == sub.epoch
                    and event.offset <= newest.event.offset
                ):
                    continue  # replayed already
                for agui in mapping.map(event):
                    last = f"{sub.epoch}:{agui.offset}"
                    yield sse(sub.epoch, agui)
        except SubscriptionClosedError as exc:
            yield interrupted(last, f"the stream was interrupted ({exc.reason})")
        except Exception:
            logger.exception("AG-UI resume failed", extra={"run_id": self._run.run_id})
            yield interrupted(last, "the stream failed on the server")
        finally:
            sub.close()

    async def _known(self) -> KnownEvents:
        return await known_events(
            self._store, self._stream, self._sub.epoch, self._user_id, self._run, self._window
        )

    def _mapping(self) -> RunMapping:
        return RunMapping(*self._client, after_answers=self._after)

    def _closing(self, known: list[SourcedEvent]) -> list[tuple[str, AguiEvent]] | None:
        """The events in ``known`` that close the AG-UI run (`RunMapping.closing`), or None
        when its end is not among them."""
        mapping = self._mapping()
        numbered = [(s.epoch, agui) for s in known for agui in mapping.map(s.event)]
        return numbered[-mapping.closing :] if mapping.finished else None

    async def _snapshot(self, known: list[SourcedEvent]) -> AsyncIterator[str]:
        """MESSAGES_SNAPSHOT of the thread once the AG-UI run has ended (the run ended or
        waits for approval), standing for every event of it but the ones that close it,
        then those: RUN_FINISHED or RUN_ERROR, after the call an interrupt asks about."""
        closing = self._closing(known)
        if closing is None:
            ending = await self._until_end()
            known = (await self._known()).events
            closing = self._closing(known)
            if closing is None:
                closing = self._closing([*known, ending or await self._told_end()])
        assert closing is not None  # an end event ends every AG-UI run it reaches
        epoch, first = closing[0]
        messages = await self._store.list_messages(self._user_id, self._run.thread_id)
        yield f"id: {epoch}:{first.offset - 1}\ndata: {messages_snapshot(messages)}\n\n"
        for epoch, agui in closing:
            yield sse(epoch, agui)

    async def _until_end(self) -> SourcedEvent | None:
        """Wait until the run has ended or waits: its agent_completed or approval_requested
        arrives (returned), or the store says so (None: a run whose process died may never
        send one)."""
        while self._run.status == "running":
            try:
                event = await asyncio.wait_for(self._sub.get(), self._end_check)
            except TimeoutError:
                self._run = await self._store.get_run(self._user_id, self._run.run_id)
                continue
            if event.run_id == self._run.run_id and event.type in _ENDS:
                return SourcedEvent(self._sub.epoch, event)
        return None

    async def _told_end(self) -> SourcedEvent:
        """The run's end as the store tells it: the call it waits for, or its status."""
        if self._run.status == "waiting":
            paused = await self._store.paused_run(self._user_id, self._run.run_id)
            return request_of(paused, self._sub.epoch)
        return terminal_of(self._run, self._sub.epoch)


_ENDS = frozenset({"agent_completed", "approval_requested"})


def _start(numbered: list[tuple[str, AguiEvent]], position: tuple[str, int] | None) -> int | None:
    """Where the replay starts in ``numbered`` for a client at ``position``; None when that
    position is not one of the run's events as known here."""
    if position is None:
        return 0
    epoch, offset = position
    if offset == 0:
        return 0
    if offset <= len(numbered) and numbered[offset - 1][0] == epoch:
        return offset
    return None
