"""Capacity units as AWS charges them, counted on a boto3 DynamoDB client.

DynamoDB Local's ConsumedCapacity is right for single-item writes, queries, BatchWriteItem and
TransactGetItems, but (docs/architecture.md, "DynamoDB Local is not AWS"):
  * TransactWriteItems reports one action's figure whatever their number: we price each action
    ourselves, 2 units per KB plus 1 per index write;
  * a write refused by its condition carries no ConsumedCapacity, but AWS charges a write unit.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cruddur.messaging.keys import CONVERSATION_PREFIX

_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
_CAPACITY_OPS = _WRITE_OPS | {
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return max(1, len(str(inner)) // 2 + 1)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    return 1


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item as DynamoDB sizes it: attribute names plus values, UTF-8."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(item: dict[str, Any]) -> int:
    return max(1, math.ceil(item_size(item) / 1024))


@dataclass
class CapacityMeter:
    """Sums read and write units of every call a client makes while attached (thread-safe).

    `index_attribute` names the GSI hash key: an item carrying it is also written to the index.
    """

    index_attribute: str = "message_group_uuid"
    read_units: float = 0.0
    write_units: float = 0.0
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> float:
        return self.read_units + self.write_units

    def reset(self) -> None:
        with self._lock:
            self.read_units = 0.0
            self.write_units = 0.0
            self.calls = defaultdict(int)

    def attach(self, client: Any) -> CapacityMeter:
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._ask_for_capacity)
        events.register("before-parameter-build.dynamodb", self._remember_params)
        events.register("after-call.dynamodb", self._count)
        return self

    def detach(self, client: Any) -> None:
        events = client.meta.events
        events.unregister("provide-client-params.dynamodb", self._ask_for_capacity)
        events.unregister("before-parameter-build.dynamodb", self._remember_params)
        events.unregister("after-call.dynamodb", self._count)

    # --- event handlers ---

    def _ask_for_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _CAPACITY_OPS and "ReturnConsumedCapacity" not in params:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _remember_params(self, params: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
        context["cruddur_params"] = params

    def _count(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict, **_: Any
    ) -> None:
        op = model.name
        if op not in _CAPACITY_OPS:
            return
        params = context.get("cruddur_params") or {}
        status = getattr(http_response, "status_code", 200)
        error_code = (parsed.get("Error") or {}).get("Code", "")
        reads, writes = 0.0, 0.0
        if op == "TransactWriteItems":
            # Priced whether it commits or is cancelled by a condition: AWS charges the attempt.
            if status < 300 or error_code == "TransactionCanceledException":
                writes = self._price_transaction(params)
        elif status >= 300:
            if error_code == "ConditionalCheckFailedException" and op in _WRITE_OPS:
                writes = 1.0
        else:
            reads, writes = self._reported(parsed, writing=op in _WRITE_OPS | {"BatchWriteItem"})
        with self._lock:
            self.calls[op] += 1
            self.read_units += reads
            self.write_units += writes

    def _reported(self, parsed: dict[str, Any], writing: bool) -> tuple[float, float]:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        reads = writes = 0.0
        for entry in entries:
            read = entry.get("ReadCapacityUnits")
            write = entry.get("WriteCapacityUnits")
            if read is None and write is None:
                # answers that give only CapacityUnits: the operation says which kind they are
                total = float(entry.get("CapacityUnits", 0.0))
                read, write = (0.0, total) if writing else (total, 0.0)
            reads += float(read or 0.0)
            writes += float(write or 0.0)
        return reads, writes

    def _price_transaction(self, params: dict[str, Any]) -> float:
        units = 0.0
        for action in params.get("TransactItems", []):
            (kind, body), *_ = action.items()
            if kind == "Put":
                item = body["Item"]
                units += 2 * write_units(item)
                if self.index_attribute in item:
                    units += 1
            elif kind in ("Delete", "Update"):
                key = body["Key"]
                units += 2 * write_units(key)
                pk = key.get("pk", {}).get("S", "")
                if pk.startswith(CONVERSATION_PREFIX):
                    units += 1  # a conversation row lives in the GSI too
            elif kind == "ConditionCheck":
                units += 2
        return units
