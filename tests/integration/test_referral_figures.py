"""A partner's network figures, the resumption of guidance after a referral, and a
partner's own capacity, on the real PostgreSQL and NATS.

Figures count the referrals *sent* to the partner in [from, to): how many, acknowledged,
answered (accepted or declined), withdrawn, the acceptance rate, the median hours to
acknowledgement and to answer, and the outcomes. To give the referrals hours apart,
referral's own clock is pinned to chosen moments years ahead (restored after the test);
the medians are checked against the times each referral reads back.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.scenarios import (
    CATEGORIES,
    a_case_known_to_referral,
    a_granted_consent,
    a_registered_partner,
    a_sent_referral,
    partner_headers,
    propose,
)
from tests.scenarios import REFERRAL as BASE
from tests.support import assert_problem, bearer, eventually

START = datetime(2032, 3, 1, tzinfo=UTC)
END = datetime(2032, 4, 1, tzinfo=UTC)
PERIOD = {"from": "2032-03-01T00:00:00Z", "to": "2032-04-01T00:00:00Z"}
H = timedelta(hours=1)


@pytest.fixture
def pin_clock(referral_app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set referral's own clock (what its commands stamp); restored after the test."""
    app = referral_app.state.application

    def pin(moment: datetime) -> None:
        monkeypatch.setattr(app, "clock", lambda: moment)

    return pin


def hours(seconds: list[float]) -> float | None:
    return None if not seconds else round(statistics.median(seconds) / 3600, 2)


async def test_network_figures_count_the_referrals_sent_in_the_period(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    org: str,
    token: Any,
    pin_clock: Callable[[datetime], None],
) -> None:
    pool = referral_app.state.runtime.pool
    partner_id = await a_registered_partner(
        referral_api, admin, capacity=20, accepted_categories=CATEGORIES
    )
    partner = partner_headers(token, partner_id)
    client_id, case_id = await a_case_known_to_referral(api, counsellor, pool)
    await a_granted_consent(api, pool, counsellor, client_id, partner_id, CATEGORIES)

    # (sent, then steps: (after, who, action, body)); one referral each.
    accept, ack = ("accept", None), ("acknowledge", None)
    plans: dict[str, tuple[datetime, list[tuple[timedelta, str, tuple[str, Any]]]]] = {
        # From is inclusive: sent exactly at the start.
        "at start": (
            START,
            [(2 * H, "p", accept), (3 * H, "p", ("outcome", {"outcome": "no_show"}))],
        ),
        "acked, accepted": (
            START + timedelta(days=1, hours=9),
            [
                (2 * H, "p", ack),
                (6 * H, "p", accept),
                (7 * H, "p", ("outcome", {"outcome": "completed"})),
            ],
        ),
        "accepted at once": (START + timedelta(days=2, hours=9), [(4 * H, "p", accept)]),
        "acked, declined": (
            START + timedelta(days=3, hours=9),
            [(H, "p", ack), (24 * H, "p", ("decline", {"reason": "Full until May."}))],
        ),
        "declined at once": (
            START + timedelta(days=4, hours=9),
            [(8 * H, "p", ("decline", {"reason": "Not our field."}))],
        ),
        "withdrawn": (
            START + timedelta(days=5, hours=9),
            [(H, "c", ("withdraw", {"reason": "The client moved away."}))],
        ),
        "unanswered": (START + timedelta(days=6, hours=9), [(3 * H, "p", ack)]),
        # Outside: before the period, and exactly at its end (to is exclusive).
        "before": (START - timedelta(days=9), [(H, "p", accept)]),
        "at end": (END, [(H, "p", ("decline", {"reason": "No."}))]),
    }
    ids: dict[str, str] = {}
    for name, (sent, steps) in plans.items():
        pin_clock(sent)
        rid = await propose(referral_api, counsellor, case_id, partner_id, CATEGORIES)
        ids[name] = rid
        for after, who, (action, body) in steps:
            pin_clock(sent + after)
            headers = partner if who == "p" else counsellor
            r = await referral_api.post(
                f"{BASE}/referrals/{rid}/{action}", json=body, headers=headers
            )
            assert r.status_code == 200, (name, action, r.text)
    inside = [n for n in plans if n not in ("before", "at end")]

    # What each referral reads back: the medians follow from these times.
    ack_seconds, answer_seconds = [], []
    for name in inside:
        r = await referral_api.get(f"{BASE}/referrals/{ids[name]}", headers=counsellor)
        body = r.json()
        sent = datetime.fromisoformat(body["sent_at"])
        assert sent == plans[name][0]
        if body["acknowledged_at"]:
            ack_seconds.append(
                (datetime.fromisoformat(body["acknowledged_at"]) - sent).total_seconds()
            )
        if body["answered_at"]:
            answer_seconds.append(
                (datetime.fromisoformat(body["answered_at"]) - sent).total_seconds()
            )
    assert sorted(ack_seconds) == [h * 3600 for h in (1, 2, 2, 3, 4, 8)]
    assert sorted(answer_seconds) == [h * 3600 for h in (2, 4, 6, 8, 24)]

    expected = {
        "partner_id": partner_id,
        "from": "2032-03-01T00:00:00Z",
        "to": "2032-04-01T00:00:00Z",
        "referrals": 7,
        "acknowledged": 6,
        "answered": 5,
        "accepted": 3,
        "declined": 2,
        "withdrawn": 1,
        "overdue": 0,
        "acceptance_rate": 0.6,
        "median_hours_to_acknowledgement": hours(ack_seconds),
        "median_hours_to_answer": hours(answer_seconds),
        "outcomes": {"completed": 1, "no_show": 1},
    }
    assert (expected["median_hours_to_acknowledgement"], expected["median_hours_to_answer"]) == (
        2.5,
        6.0,
    )

    def same(figures: dict[str, Any], organisation: str | None) -> None:
        got = dict(figures)
        for bound in ("from", "to"):
            got[bound] = datetime.fromisoformat(got[bound])
            assert got[bound] == datetime.fromisoformat(expected[bound])
        want = {**expected, "organisation": organisation}
        for bound in ("from", "to"):
            want[bound] = got[bound]
        assert got == want

    url = f"{BASE}/partners/{partner_id}/figures"
    team_lead = bearer(token("team_lead", org=org, sub="lead-1"))
    r = await referral_api.get(url, params=PERIOD, headers=team_lead)
    assert r.status_code == 200, r.text
    same(r.json(), org)
    # The directory administrator and the partner itself see every organisation's (only
    # this one's here); an admin sees their own organisation's: none of these.
    network = bearer(token("directory_admin", org="network", sub="directory-1"))
    for headers in (network, partner):
        r = await referral_api.get(url, params=PERIOD, headers=headers)
        assert r.status_code == 200, r.text
        same(r.json(), None)
    r = await referral_api.get(url, params=PERIOD, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["organisation"], r.json()["referrals"]) == ("platform", 0)

    # Period bounds: the day of the start only; a period holding only the outside ones.
    r = await referral_api.get(
        url,
        params={"from": "2032-03-01T00:00:00Z", "to": "2032-03-01T00:00:01Z"},
        headers=team_lead,
    )
    assert (r.json()["referrals"], r.json()["accepted"]) == (1, 1)
    r = await referral_api.get(
        url,
        params={"from": "2032-04-01T00:00:00Z", "to": "2032-04-02T00:00:00Z"},
        headers=team_lead,
    )
    assert (r.json()["referrals"], r.json()["declined"], r.json()["acceptance_rate"]) == (1, 1, 0)
    r = await referral_api.get(
        url, params={"from": "2032-02-01T00:00:00Z", "to": "2032-05-01T00:00:00Z"}, headers=network
    )
    assert (r.json()["referrals"], r.json()["accepted"], r.json()["declined"]) == (9, 4, 3)
    r = await referral_api.get(
        url, params={"from": "2033-01-01T00:00:00Z", "to": "2033-02-01T00:00:00Z"}, headers=network
    )
    empty = r.json()
    assert (empty["referrals"], empty["acceptance_rate"], empty["outcomes"]) == (0, None, {})
    assert empty["median_hours_to_answer"] is None

    # A team lead of another organisation sees none of these.
    stranger = bearer(token("team_lead", org=f"{org}-other", sub="lead-2"))
    r = await referral_api.get(url, params=PERIOD, headers=stranger)
    assert r.status_code == 200, r.text
    other = r.json()
    assert other["organisation"] == f"{org}-other"
    assert (other["referrals"], other["acknowledged"], other["answered"]) == (0, 0, 0)
    assert (other["acceptance_rate"], other["median_hours_to_acknowledgement"]) == (None, None)
    assert other["outcomes"] == {}

    # Another partner reads no figures but its own; a counsellor none at all.
    another = partner_headers(token, str(uuid.uuid4()), sub="p-9")
    r = await referral_api.get(url, params=PERIOD, headers=another)
    assert_problem(r, 404, "not-found")
    r = await referral_api.get(url, params=PERIOD, headers=counsellor)
    assert r.status_code == 403, r.text
    r = await referral_api.get(f"{BASE}/partners/{uuid.uuid4()}/figures", headers=admin)
    assert_problem(r, 404, "not-found")
    # A period must have offsets and end after it starts; the error names `from`.
    for params in (
        {"from": "2032-03-01T00:00:00", "to": "2032-04-01T00:00:00Z"},
        {"from": "2032-04-01T00:00:00Z", "to": "2032-03-01T00:00:00Z"},
        {"from": "2032-04-01", "to": "2032-03-31"},
    ):
        r = await referral_api.get(url, params=params, headers=admin)
        assert_problem(r, 422, "validation-error", ("from",))
    r = await referral_api.get(url, params={"to": "2032-03-31T00:00:00"}, headers=admin)
    assert_problem(r, 422, "validation-error", ("to",))

    # Plain dates, as the follow-up report takes them: `to` is the end of that day.
    r = await referral_api.get(
        url, params={"from": "2032-03-01", "to": "2032-03-31"}, headers=team_lead
    )
    assert r.status_code == 200, r.text
    same(r.json(), org)
    assert (r.json()["from"], r.json()["to"]) == ("2032-03-01T00:00:00Z", "2032-04-01T00:00:00Z")
    # A date and a time with its offset mix; the echo is the period used.
    r = await referral_api.get(
        url, params={"from": "2032-03-01T01:00:00+01:00", "to": "2032-03-31"}, headers=team_lead
    )
    assert r.status_code == 200, r.text
    same(r.json(), org)
    # No period: the last 90 days ending now (nothing of 2032 in it), echoed.
    before = datetime.now(UTC)
    r = await referral_api.get(url, headers=team_lead)
    assert r.status_code == 200, r.text
    start, end = (datetime.fromisoformat(r.json()[b]) for b in ("from", "to"))
    assert before <= end <= datetime.now(UTC) and end - start == timedelta(days=90)
    assert r.json()["referrals"] == 0


async def case_resumption(
    api: httpx.AsyncClient,
    counsellor: dict[str, str],
    case_id: str,
    referral_id: str,
    resumes: bool,
) -> dict[str, Any]:
    """The intake case once it shows this resumption news from referral."""

    async def check() -> dict[str, Any] | None:
        r = await api.get(f"/intake/v1/cases/{case_id}", headers=counsellor)
        assert r.status_code == 200, r.text
        case: dict[str, Any] = r.json()
        news = case.get("resumption")
        ok = news and news["referral_id"] == referral_id and news["resumes"] is resumes
        return case if ok else None

    found: dict[str, Any] = await eventually(check, f"resumes={resumes} in intake")
    return found


async def test_resumption_recorded_in_referral_shows_in_the_intake_case(
    api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_app: Any,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    pool = referral_app.state.runtime.pool
    w = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    rid, case_id = w["referral_id"], w["case_id"]
    r = await api.get(f"/intake/v1/cases/{case_id}", headers=counsellor)
    assert (r.json()["resumed"], r.json()["resumption"]) == (False, None)

    resume_on = (date.today() + timedelta(days=60)).isoformat()
    r = await referral_api.post(
        f"{BASE}/referrals/{rid}/resumption",
        json={"resumes": True, "resume_on": resume_on, "note": "After the debt plan."},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    assert r.json()["resumption"]["resumes"] is True
    case = await case_resumption(api, counsellor, case_id, rid, True)
    assert case["resumed"] is True
    assert case["resumption"]["resume_on"] == resume_on

    # Said again, the latest wins: guidance does not resume.
    r = await referral_api.post(
        f"{BASE}/referrals/{rid}/resumption", json={"resumes": False}, headers=counsellor
    )
    assert r.status_code == 200, r.text
    case = await case_resumption(api, counsellor, case_id, rid, False)
    assert case["resumed"] is False
    assert case["resumption"]["resume_on"] is None

    # Another case that never resumes.
    w2 = await a_sent_referral(api, referral_api, pool, admin, counsellor, token)
    r = await referral_api.post(
        f"{BASE}/referrals/{w2['referral_id']}/resumption",
        json={"resumes": False},
        headers=counsellor,
    )
    assert r.status_code == 200, r.text
    case = await case_resumption(api, counsellor, w2["case_id"], w2["referral_id"], False)
    assert (case["resumed"], case["resumption"]["resume_on"]) == (False, None)

    # Not sent yet: nothing to resume from; a date goes with resuming only.
    client_id, case3 = await a_case_known_to_referral(api, counsellor, pool)
    await a_granted_consent(api, pool, counsellor, client_id, w["partner_id"], CATEGORIES)
    proposed = await propose(
        referral_api, counsellor, case3, w["partner_id"], CATEGORIES, send_it=False
    )
    r = await referral_api.post(
        f"{BASE}/referrals/{proposed}/resumption", json={"resumes": False}, headers=counsellor
    )
    assert_problem(r, 409, "not-sent")
    for body in ({"resumes": True}, {"resumes": False, "resume_on": resume_on}):
        r = await referral_api.post(
            f"{BASE}/referrals/{rid}/resumption", json=body, headers=counsellor
        )
        assert_problem(r, 422, "validation-error", ("resume_on",))
    r = await referral_api.post(
        f"{BASE}/referrals/{rid}/resumption", json={"resumes": True}, headers=w["partner"]
    )
    assert r.status_code == 403, r.text


async def test_a_partner_sets_its_own_capacity_and_no_other(
    referral_api: httpx.AsyncClient,
    admin: dict[str, str],
    counsellor: dict[str, str],
    token: Any,
) -> None:
    own = await a_registered_partner(referral_api, admin, capacity=2)
    other = await a_registered_partner(referral_api, admin, capacity=2)
    partner = partner_headers(token, own)

    r = await referral_api.put(
        f"{BASE}/partners/{own}/capacity", json={"open_places": 7}, headers=partner
    )
    assert r.status_code == 200, r.text
    assert (r.json()["partner_id"], r.json()["open_places"]) == (own, 7)
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    r = await referral_api.get(f"{BASE}/partners/{own}", headers=counsellor)
    assert r.json()["open_places"] == 7

    # Another partner's capacity reads as absent, and stays as it was.
    r = await referral_api.put(
        f"{BASE}/partners/{other}/capacity", json={"open_places": 0}, headers=partner
    )
    assert_problem(r, 404, "not-found")
    r = await referral_api.get(f"{BASE}/partners/{other}", headers=counsellor)
    assert r.json()["open_places"] == 2
    # A counsellor sets no capacity; a partner nothing else of its entry.
    r = await referral_api.put(
        f"{BASE}/partners/{own}/capacity", json={"open_places": 1}, headers=counsellor
    )
    assert r.status_code == 403, r.text
    r = await referral_api.patch(
        f"{BASE}/partners/{own}", json={"name": "Renamed"}, headers=partner
    )
    assert r.status_code == 403, r.text
    r = await referral_api.get(f"{BASE}/partners/{own}", headers=counsellor)
    assert r.json()["open_places"] == 7 and r.json()["name"] != "Renamed"
