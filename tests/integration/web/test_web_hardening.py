"""The web UI's side of issue 12: the script's send route takes Idempotency-Key, the sign-in form
is rate limited, and a form send over the limit gets a 429 page. (No REDIS_URL here: the
in-process key store and limiter, the same rules as Redis's.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from cruddur.api import create_app


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def app(settings, repo, users, signing_key):
    limited = replace(settings, rate_limit_signin_per_minute=2, rate_limit_sends_per_minute=3)
    return create_app(limited, messages=repo, users=users)


def test_the_scripts_send_with_a_key_stores_once(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    body = {"handle": "bayko", "message": "from the page"}
    key = {"Idempotency-Key": "b7e1c0de-0000-4000-8000-000000000001"}

    first = andrew.post_json("/web/messages", body, headers=key)
    retried = andrew.post_json("/web/messages", body, headers=key)
    other = andrew.post_json("/web/messages", {**body, "message": "edited"}, headers=key)

    assert first.status_code == retried.status_code == 200
    assert retried.get_json() == first.get_json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.get_json() == {"errors": ["idempotency_key_reused"]}
    group = first.get_json()["message_group_uuid"]
    page = andrew.get(f"/web/messages/{group}").get_json()
    assert [m["message"] for m in page["items"]] == ["from the page"]


def test_the_sign_in_form_is_rate_limited(browser, register):
    register("andrewbrown")
    b = browser()

    statuses = [b.sign_in("andrewbrown", "wrong").status_code for _ in range(3)]
    refused = b.sign_in("andrewbrown", "wrong")

    assert statuses == [401, 401, 429]
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in text_of(refused)
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_form_send_over_the_limit_is_a_429_page(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    group = andrew.post_json("/web/messages", {"handle": "bayko", "message": "1"}).get_json()[
        "message_group_uuid"
    ]
    andrew.get(f"/messages/{group}")
    sent = [andrew.post_form(f"/messages/{group}", {"message": str(i)}) for i in (2, 3, 4)]

    assert [s.status_code for s in sent] == [303, 303, 429]
    assert "Slow down" in text_of(sent[-1])
    assert sent[-1].headers["Retry-After"]
