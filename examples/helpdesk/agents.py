"""The help desk's two agents: one that asks the model, one written out step by step."""

from __future__ import annotations

import re
from collections.abc import Sequence

from goldpath import Agent, AgentThinking, Emitter, Message, MessageDelta, UserExecutionContext
from goldpath.agents import Supervisor
from goldpath.models import ChatModel
from goldpath.tools import ToolDispatcher

ORDER_ID = re.compile(r"\b[A-Z]-\d{4}\b", re.IGNORECASE)


class Assistant(Supervisor):
    """Answers anything with the model and every tool: arithmetic, the time, orders and
    deliveries."""

    name = "assistant"
    # model = "openai:gpt-4o-mini"  # a model of its own; None runs with GOLDPATH_MODEL's


class Orders(Agent):
    """Tracks an order: its status from the shop, its delivery date from shipping."""

    name = "orders"

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        found = ORDER_ID.search(message)
        if found is None:
            answer = "Which order? Give me its id, such as A-1001."
        else:
            order_id = found.group(0).upper()
            await emitter.emit(AgentThinking(f"Looking up order {order_id}."))
            status = await tools.call("call_status", "order_status", {"order_id": order_id})
            if not status.ok:
                answer = f"I could not find that order: {status.error}"
            else:
                # delivery_estimate is the MCP server's tool: called like any other.
                eta = await tools.call("call_eta", "delivery_estimate", {"order_id": order_id})
                item, state = status.value["item"], status.value["status"]
                when = f" It should arrive {eta.value}." if eta.ok else ""
                answer = f"Your {item} ({order_id}) is {state}.{when}"
        for word in answer.split(" "):
            await emitter.emit(MessageDelta(word + " "))
        return answer
