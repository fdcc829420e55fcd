"""The console's parts on their own: sessions (on the real PostgreSQL), CSRF, problems
turned into field messages, the language chosen, the assets' integrity check."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from starlette.datastructures import FormData
from starlette.requests import Request

from services.console import assets
from services.console.api import ApiError, Page, form_errors, merged_page
from services.console.i18n import Localised, choose, environment, negotiate
from services.console.pages import CLIENT_FIELDS
from services.console.referrals import body_of, coverage, history
from services.console.sessions import SCHEMA_SQL, Sealer, SessionStore, hash_id
from services.console.web import (
    ANONYMOUS_CSRF_COOKIE,
    CsrfRefused,
    View,
    safe_next,
    secure_cookies,
    session_cookie_name,
)
from shared.settings import Settings

PROBLEM = "https://waypoint.example/problems/"
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


# -- sessions ---------------------------------------------------------------------------------
@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SessionStore]:
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    await pool.execute(SCHEMA_SQL)
    yield SessionStore(
        pool,
        Sealer(settings.master_key_bytes),
        idle=timedelta(minutes=30),
        absolute=timedelta(hours=10),
    )
    await pool.close()


async def new(store: SessionStore, token: str = "the-access-token", now: datetime = T0) -> Any:
    return await store.create(
        subject="c.jansen",
        organisation="org-a",
        roles=["counsellor"],
        partner_id=None,
        access_token=token,
        language="fr",
        now=now,
    )


async def test_a_session_keeps_only_a_hash_of_its_id_and_a_sealed_token(
    store: SessionStore,
) -> None:
    raw, _ = await new(store, token="secret-bearer-token")
    assert len(base64.urlsafe_b64decode(raw + "=")) == 32  # 256 random bits
    row = await store.pool.fetchrow(
        "SELECT * FROM console.sessions WHERE id_hash = $1", hash_id(raw)
    )
    assert row is not None
    assert row["id_hash"] == hashlib.sha256(raw.encode()).digest()
    stored = b"".join(str(v).encode() if not isinstance(v, bytes) else v for v in row.values())
    assert raw.encode() not in stored
    assert b"secret-bearer-token" not in stored
    again = await store.get(raw, now=T0 + timedelta(minutes=1))
    assert again is not None and again.access_token == "secret-bearer-token"
    assert again.language == "fr" and again.roles == ("counsellor",)
    assert "secret-bearer-token" not in repr(again) and again.csrf_secret not in repr(again)


async def test_a_session_ends_when_idle_too_long(store: SessionStore) -> None:
    raw, _ = await new(store)
    # Each request within the idle time keeps it alive, well past one idle period.
    for minutes in (20, 40, 60):
        assert await store.get(raw, now=T0 + timedelta(minutes=minutes)) is not None
    assert await store.get(raw, now=T0 + timedelta(minutes=91)) is None
    assert await store.get(raw, now=T0 + timedelta(minutes=61)) is None  # deleted


async def test_a_session_ends_at_its_absolute_expiry_however_busy(store: SessionStore) -> None:
    raw, _ = await new(store)
    moment = T0
    while moment < T0 + timedelta(hours=10) - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        assert await store.get(raw, now=moment) is not None
    assert await store.get(raw, now=T0 + timedelta(hours=10, seconds=1)) is None


async def test_logout_deletes_the_session(store: SessionStore) -> None:
    raw, session = await new(store)
    await store.delete(session)
    assert await store.get(raw, now=T0) is None
    assert await store.get("someone-elses-guess", now=T0) is None
    assert await store.get("x" * 500, now=T0) is None


async def test_a_session_lives_through_a_master_key_rotation_and_ends_once_its_key_is_gone(
    store: SessionStore,
) -> None:
    old, new_key = os.urandom(32), os.urandom(32)

    def on(sealer: Sealer) -> SessionStore:
        return SessionStore(store.pool, sealer, idle=store.idle, absolute=store.absolute)

    raw, _ = await new(on(Sealer(old)), token="before-the-rotation")
    # The new key current, the old one previous: the session still opens.
    during = await on(Sealer(new_key, old)).get(raw, now=T0 + timedelta(minutes=1))
    assert during is not None and during.access_token == "before-the-rotation"
    # The old key removed: the session is over (its row deleted), not an error.
    assert await on(Sealer(new_key)).get(raw, now=T0 + timedelta(minutes=2)) is None
    assert (
        await store.pool.fetchval(
            "SELECT count(*) FROM console.sessions WHERE id_hash = $1", hash_id(raw)
        )
        == 0
    )


async def test_a_token_sealed_for_one_session_does_not_open_for_another(
    settings: Settings,
) -> None:
    sealer = Sealer(settings.master_key_bytes)
    sealed = sealer.seal("token", b"session-a")
    assert sealer.open(sealed, b"session-a") == "token"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        sealer.open(sealed, b"session-b")


# -- CSRF ---------------------------------------------------------------------------------------
def request(cookies: dict[str, str] | None = None) -> Request:
    header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/clients",
        "query_string": b"",
        "headers": [(b"cookie", header.encode())] if header else [],
    }
    return Request(scope)


async def test_a_form_of_a_session_needs_that_sessions_token(store: SessionStore) -> None:
    _, session = await new(store)
    view = View(request(), Settings(auth_mode="dev"), session, Localised("en"))
    view.check_csrf(FormData({"csrf_token": session.csrf_secret}))
    for form in ({}, {"csrf_token": ""}, {"csrf_token": "guess"}):
        with pytest.raises(CsrfRefused):
            view.check_csrf(FormData(form))
    _, other = await new(store)
    with pytest.raises(CsrfRefused):
        view.check_csrf(FormData({"csrf_token": other.csrf_secret}))


def test_a_form_before_sign_in_needs_the_token_of_its_cookie() -> None:
    settings = Settings(auth_mode="dev")
    view = View(request({ANONYMOUS_CSRF_COOKIE: "abc"}), settings, None, Localised("en"))
    view.check_csrf(FormData({"csrf_token": "abc"}))
    with pytest.raises(CsrfRefused):
        view.check_csrf(FormData({"csrf_token": "abd"}))
    cookieless = View(request(), settings, None, Localised("en"))
    with pytest.raises(CsrfRefused):
        cookieless.check_csrf(FormData({"csrf_token": "abc"}))


def test_the_session_cookie_is_secure_outside_dev_mode() -> None:
    dev = Settings(auth_mode="dev")
    assert not secure_cookies(dev) and session_cookie_name(dev) == "waypoint-session"
    oidc = Settings(
        auth_mode="oidc",
        oidc_issuer="https://idp.example",
        oidc_jwks_url="https://idp.example/jwks",
        master_key=base64.b64encode(b"k" * 32).decode(),
        audit_signing_key=base64.b64encode(b"s" * 32).decode(),
    )
    # `__Host-`: the browser keeps it only when Secure, for this host, path / alone.
    assert secure_cookies(oidc) and session_cookie_name(oidc) == "__Host-waypoint-session"


def test_only_paths_of_this_site_are_gone_back_to() -> None:
    assert safe_next("/clients/new") == "/clients/new"
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "", None):
        assert safe_next(target) == "/"


# -- problems at their fields -------------------------------------------------------------------
def test_a_refused_field_gets_its_message_in_the_pages_language() -> None:
    problem = {
        "type": PROBLEM + "validation-error",
        "status": 422,
        "errors": [
            {"field": "email", "message": "String should match pattern"},
            {"field": "birth_date", "message": "The birth date must lie in the past."},
            {"field": "scores.networking", "message": "not on this form"},
        ],
    }
    errors = form_errors(ApiError(422, problem), Localised("nl"), CLIENT_FIELDS)
    assert errors.fields["email"] == ["Vul een e-mailadres in zoals naam@voorbeeld.nl."]
    assert list(errors.fields) == ["email", "birth_date"]
    assert errors.summary[0] == "Sommige velden vragen uw aandacht."
    assert "scores.networking: not on this form" in errors.summary
    assert not errors.conflict


def test_a_version_conflict_says_someone_else_changed_it() -> None:
    problem = {"type": PROBLEM + "version-conflict", "status": 409, "detail": "at 4, not 3"}
    errors = form_errors(ApiError(409, problem), Localised("en"), CLIENT_FIELDS)
    assert errors.conflict
    assert errors.summary[0].startswith("Someone else changed this record")
    assert not errors.fields


def test_an_unknown_refusal_shows_the_apis_detail() -> None:
    problem = {"type": PROBLEM + "case-closed", "status": 409, "detail": "The case is closed."}
    errors = form_errors(ApiError(409, problem), Localised("fr"), CLIENT_FIELDS)
    assert errors.summary == ["La modification a été refusée : The case is closed."]


# -- languages ----------------------------------------------------------------------------------
def test_the_language_is_the_choice_then_accept_language_then_dutch() -> None:
    assert negotiate("fr-BE,fr;q=0.9,en;q=0.5") == "fr"
    assert negotiate("de-DE, en;q=0.7, nl;q=0.8") == "nl"
    assert negotiate("de-DE") is None
    assert negotiate("garbage;;q=x,") is None
    assert choose("en", "fr-BE") == "en"
    assert choose(None, "fr-BE") == "fr"
    assert choose("xx", None) == "nl"


def test_dates_and_numbers_follow_the_language() -> None:
    assert Localised("nl").day("1990-04-12", "long") == "12 april 1990"
    assert Localised("fr").day("1990-04-12", "long") == "12 avril 1990"
    assert Localised("en").day("1990-04-12", "long") == "April 12, 1990"
    assert Localised("nl").number(1234.5) == "1.234,5"
    # Moments in the agency's time zone (Europe/Amsterdam unless the settings say else).
    assert Localised("nl").moment("2026-11-29T19:45:03+00:00") == "29 nov 2026, 20:45"
    assert Localised("nl").moment("2026-11-29T19:45:03+00:00", "medium") == "29 nov 2026, 20:45:03"
    assert Localised("en").moment("2026-11-29T19:45:03+00:00") == "Nov 29, 2026, 8:45\u202fPM"
    assert Localised("fr").number(1234.5).replace("\u202f", " ") == "1 234,5"


# -- assets -------------------------------------------------------------------------------------
def test_an_asset_is_refused_unless_it_matches_its_pinned_integrity() -> None:
    data = b"tarball"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assets.check_integrity(data, good)
    with pytest.raises(assets.IntegrityError):
        assets.check_integrity(data + b"!", good)
    with pytest.raises(assets.IntegrityError):
        assets.check_integrity(
            data, "sha1-" + base64.b64encode(hashlib.sha1(data).digest()).decode()
        )


def test_every_pinned_asset_names_a_registry_tarball_and_a_sha512() -> None:
    for name, pin in assets.pins().items():
        assert pin["tarball"].startswith("https://registry.npmjs.org/"), name
        assert pin["version"] in pin["tarball"], name
        assert pin["integrity"].startswith("sha512-"), name


# -- follow-up forms ----------------------------------------------------------------------------
def test_the_follow_up_forms_become_the_apis_bodies() -> None:
    from services.console.aftercare import body_of

    assert body_of("contact", {"channel": "phone", "reached": "no", "notes": ""}) == {
        "channel": "phone",
        "reached": False,
        "notes": None,
    }
    feedback = {
        "satisfaction": "4",
        "self_knowledge_improved": "yes",
        "confidence_improved": "",
        "comments": "Good",
    }
    # What the API cannot take is sent as given: it refuses it at its field.
    assert body_of("feedback", feedback) == {
        "satisfaction": 4,
        "self_knowledge_improved": True,
        "confidence_improved": "",
        "comments": "Good",
    }
    assert body_of("close", {"reason": "unreachable", "notes": ""}) == {
        "reason": "unreachable",
        "notes": None,
    }


def test_an_outcome_dated_before_acceptance_is_shown_at_its_date() -> None:
    from services.console.aftercare import OUTCOME_FIELDS

    error = ApiError(
        422,
        {
            "type": PROBLEM + "validation-error",
            "errors": [{"field": "on", "message": "The date lies before the case was accepted."}],
        },
    )
    found = form_errors(
        error, Localised("fr", "Europe/Brussels"), OUTCOME_FIELDS, prefix="outcome-"
    )
    assert found.fields == {
        "outcome-on": [
            "Indiquez la date du résultat : pas dans le futur, pas avant l'acceptation du dossier."
        ]
    }


def test_the_follow_ups_actions_carry_the_plans_descriptions() -> None:
    from services.console.aftercare import action_rows

    plan = {"goals": [{"title": "Work", "actions": [{"action_id": "a1", "description": "CV"}]}]}
    followup = {"actions": [{"action_id": "a1", "owner": "client"}, {"action_id": "a2"}]}
    rows = action_rows(followup, plan)
    assert [(r["description"], r["goal"]) for r in rows] == [("CV", "Work"), ("", "")]


# -- referrals: the consent's coverage, the history, a union of lists -------------------------
PARTNER = "7d9e2f4a-1b3c-4d5e-8f6a-2b3c4d5e6f7a"
OTHER = "11111111-2222-4333-8444-555555555555"


def test_coverage_is_the_granted_referral_consent_for_exactly_that_partner() -> None:
    consents = [
        {"purpose": "guidance", "granted": True, "partner_id": None, "data_categories": []},
        # Another partner's consent covers contact details: not this one's.
        {
            "purpose": "referral",
            "granted": True,
            "partner_id": OTHER,
            "data_categories": ["contact", "plan"],
            "granted_at": "2026-11-01T10:00:00+00:00",
        },
        {
            "purpose": "referral",
            "granted": True,
            "partner_id": PARTNER,
            "data_categories": ["identity", "plan"],
            "granted_at": "2026-11-20T10:00:00+00:00",
        },
    ]
    rows = {r.category: r for r in coverage(consents, PARTNER, ["identity", "contact"])}
    assert list(rows) == ["identity", "contact", "career_question", "assessments", "plan"]
    assert rows["identity"].consented and rows["identity"].shareable
    assert rows["identity"].granted_at == "2026-11-20T10:00:00+00:00"
    assert not rows["contact"].consented and rows["contact"].accepted
    assert rows["contact"].granted_at is None
    # Consented, but the partner does not accept it: not shareable either.
    assert rows["plan"].consented and not rows["plan"].accepted and not rows["plan"].shareable
    # A withdrawn consent covers nothing.
    consents[2]["granted"] = False
    assert not any(r.consented for r in coverage(consents, PARTNER, ["identity"]))
    assert not any(r.consented for r in coverage([], PARTNER, ["identity"]))


def a_referral(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": "proposed",
        "created_at": "2026-11-02T09:00:00+00:00",
        "sent_at": None,
        "acknowledged_at": None,
        "answered_at": None,
        "decline_reason": None,
        "overdue": False,
        "overdue_since": None,
        "outcome": None,
        "resumption": None,
        "updated_at": "2026-11-02T09:00:00+00:00",
    }
    return {**base, **fields}


def test_the_history_of_a_referral_lists_each_step_in_order_with_who_acted() -> None:
    assert [(h.what, h.by) for h in history(a_referral())] == [("proposed", "counsellor")]
    answered = a_referral(
        status="closed",
        sent_at="2026-11-02T10:00:00+00:00",
        acknowledged_at="2026-11-03T08:00:00+00:00",
        answered_at="2026-11-12T08:00:00+00:00",
        overdue=True,
        overdue_since="2026-11-09",
        outcome={"outcome": "completed", "notes": None, "reported_at": "2026-12-20T08:00:00Z"},
        updated_at="2026-12-21T08:00:00+00:00",
    )
    steps = history(answered)
    assert [(h.what, h.by) for h in steps] == [
        ("proposed", "counsellor"),
        ("sent", "counsellor"),
        ("acknowledged", "partner"),
        ("overdue", "system"),
        ("accepted", "partner"),
        ("outcome_reported", "partner"),
        ("closed", "counsellor"),
    ]
    assert steps[3].day_only and not steps[4].day_only
    assert steps[-1].at == datetime(2026, 12, 21, 8, 0, tzinfo=UTC)


def test_an_answer_without_an_acknowledgement_before_it_is_one_step() -> None:
    declined = a_referral(
        status="declined",
        sent_at="2026-11-02T10:00:00+00:00",
        acknowledged_at="2026-11-04T10:00:00+00:00",
        answered_at="2026-11-04T10:00:00+00:00",
        decline_reason="No places this term.",
    )
    assert [h.what for h in history(declined)] == ["proposed", "sent", "declined"]


def test_a_withdrawal_followed_by_a_resumption_has_no_known_moment_but_keeps_its_place() -> None:
    withdrawn = a_referral(
        status="withdrawn",
        sent_at="2026-11-02T10:00:00+00:00",
        resumption={
            "resumes": True,
            "resume_on": "2026-12-01",
            "note": None,
            "recorded_at": "2026-11-10T10:00:00+00:00",
        },
        updated_at="2026-11-10T10:00:00+00:00",
    )
    steps = history(withdrawn)
    assert [h.what for h in steps] == ["proposed", "sent", "withdrawn", "resumption"]
    assert steps[2].at is None


def test_a_union_of_two_lists_is_paged_in_their_order_with_both_totals() -> None:
    sent = [
        {"id": "s1", "updated_at": "2026-11-05T10:00:00+00:00"},
        {"id": "s2", "updated_at": "2026-11-03T10:00:00+00:00"},
    ]
    # Another offset: compared as moments, not as text.
    acknowledged = [
        {"id": "a1", "updated_at": "2026-11-04T12:00:00+02:00"},
        {"id": "a2", "updated_at": "2026-11-01T10:00:00Z"},
    ]
    first = merged_page([sent, acknowledged], [3, 2], 1, 2)
    assert [i["id"] for i in first.items] == ["s1", "a1"]
    assert first.total == 5 and first.pages == 3 and first.next == 2
    second = merged_page([sent, acknowledged], [3, 2], 2, 2)
    assert [i["id"] for i in second.items] == ["s2", "a2"]


def test_the_referral_forms_bodies_keep_what_the_api_must_judge() -> None:
    assert body_of("send", {}) is None
    assert body_of("close", {"note": ""}) == {"note": None}
    assert body_of("resumption", {"resumes": "yes", "resume_on": "2026-12-01", "note": ""}) == {
        "resumes": True,
        "resume_on": "2026-12-01",
        "note": None,
    }
    # Not a yes or no: as given (the page refuses it before the API is asked).
    assert body_of("resumption", {"resumes": "maybe", "resume_on": "", "note": ""})["resumes"] == (
        "maybe"
    )


def test_a_moments_day_is_the_agencys_not_utcs() -> None:
    late = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # 00:30 on the 30th in Amsterdam
    assert Localised("en").day(late) == "Nov 30, 2026"
    assert Localised("en").day(late.isoformat()) == "Nov 30, 2026"
    assert Localised("en", "UTC").day(late) == "Nov 29, 2026"
    assert Localised("nl").day("2026-11-29") == "29 nov 2026"  # a day stays that day


def test_the_consoles_labels_name_every_word_of_the_shared_vocabulary_in_its_order() -> None:
    from services.console import aftercare, casework, forms, pages, referrals
    from shared import vocabulary

    assert tuple(forms.COMPETENCES) == vocabulary.COMPETENCES
    assert tuple(casework.CATEGORIES) == vocabulary.DATA_CATEGORIES
    assert tuple(pages.PURPOSE_NAMES) == vocabulary.PURPOSES
    assert tuple(aftercare.OUTCOMES) == vocabulary.GUIDANCE_OUTCOMES
    assert tuple(referrals.OUTCOMES) == vocabulary.REFERRAL_OUTCOMES


@pytest.mark.parametrize(
    ("language", "capped", "shown"),
    [
        ("en", False, "9,999"),
        ("en", True, "more than 10,000"),
        ("nl", True, "meer dan 10.000"),
        ("fr", True, "plus de 10\u202f000"),
    ],
)
def test_a_capped_total_reads_more_than_the_cap(language: str, capped: bool, shown: str) -> None:
    total = 10_000 if capped else 9_999
    page = Page(items=[{}] * 50, total=total, number=1, size=50, capped=capped)
    assert environment(language).filters["total"](page) == shown


def test_beyond_a_capped_total_the_pager_goes_on_while_pages_are_full() -> None:
    full = Page(items=[{}] * 50, total=10_000, number=200, size=50, capped=True)
    assert (full.pages, full.next) == (201, 201)
    last = Page(items=[{}] * 7, total=10_000, number=230, size=50, capped=True)
    assert (last.pages, last.next) == (230, None)
    exact = Page(items=[{}] * 50, total=10_000, number=200, size=50)
    assert (exact.pages, exact.next) == (200, None)
