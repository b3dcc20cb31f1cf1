"""The help desk's own tool: a typed async function, its schema taken from its signature."""

from __future__ import annotations

from types import MappingProxyType

from goldpath import tool

# The shop's orders: a real deployment would ask its database here.
ORDERS = MappingProxyType(
    {
        "A-1001": MappingProxyType({"item": "mechanical keyboard", "status": "shipped"}),
        "A-1002": MappingProxyType({"item": "desk lamp", "status": "packing"}),
    }
)


@tool(timeout=5)
async def order_status(order_id: str) -> dict[str, str]:
    """The status of an order, by its id (e.g. "A-1001")."""
    key = order_id.strip().upper()
    order = ORDERS.get(key)
    if order is None:
        raise LookupError(f"there is no order {order_id!r}; order ids look like A-1001")
    return {"order_id": key, **order}
