"""Schemathesis hooks (loaded by name through SCHEMATHESIS_HOOKS by test_fuzz_api.py): half the
generated path parameters and bodies name a seeded group or user instead of a random one, so the
fuzzer reaches what members see (200s, renames, leaving) and not only 404 for unknown uuids."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

GROUPS: list[str] = json.loads(os.environ.get("CRUDDUR_FUZZ_GROUPS", "[]"))
HANDLES: list[str] = json.loads(os.environ.get("CRUDDUR_FUZZ_HANDLES", "[]"))

# field name -> the seeded values it may take (a list field takes a sample of them)
_SEEDED = {
    "group_uuid": GROUPS,
    "message_group_uuid": GROUPS,
    "group": GROUPS,
    "handle": HANDLES,
}


@st.composite
def _seeded(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    value = draw(strategy)
    if not isinstance(value, dict):
        return value
    value = dict(value)
    for name, choices in _SEEDED.items():
        if name in value:
            value[name] = draw(st.sampled_from(choices))
    if isinstance(value.get("handles"), list):
        value["handles"] = draw(st.lists(st.sampled_from(HANDLES), max_size=4))
    return value


def _with_seeded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    if not GROUPS or not HANDLES:
        return strategy
    return st.one_of(strategy, _seeded(strategy))


@schemathesis.hook
def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    return _with_seeded(strategy)


@schemathesis.hook
def before_generate_query(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    return _with_seeded(strategy)


@schemathesis.hook
def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    return _with_seeded(strategy)
