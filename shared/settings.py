"""Settings of every service, from the GUIDANCE_* environment (pydantic-settings)."""

from __future__ import annotations

import base64
import secrets
from datetime import date
from functools import cache, cached_property
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Dev-only secrets: used when GUIDANCE_AUTH_MODE=dev and nothing else is given. The
# signing secret has no default: one known to all would let anyone mint an admin's token
# for a dev system left reachable; see `run_jwt_secret`.
DEV_MASTER_KEY = base64.b64encode(b"waypoint-dev-master-key-32bytes!").decode()
DEV_AUDIT_SIGNING_KEY = base64.b64encode(b"waypoint-dev-audit-signing-seed!").decode()


class Instrument(BaseModel):
    """One instrument of the agency's list: a test or questionnaire whose results the
    counsellor records and interprets in a plan."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["interests", "personality", "values", "skills", "aptitude", "other"]
    publisher: str | None = Field(default=None, max_length=200)
    languages: list[Literal["nl", "fr", "en", "de"]] = Field(default_factory=list)


DEFAULT_INSTRUMENTS = [
    Instrument(
        code="riasec",
        name="RIASEC interest test (Holland codes)",
        kind="interests",
        publisher=None,
        languages=["nl", "fr", "en"],
    ),
    Instrument(
        code="career-anchors",
        name="Career anchors (Schein)",
        kind="values",
        publisher=None,
        languages=["nl", "en"],
    ),
    Instrument(
        code="big-five",
        name="Big Five personality questionnaire",
        kind="personality",
        publisher=None,
        languages=["nl", "fr", "en"],
    ),
    Instrument(
        code="competence-scan",
        name="Competence scan",
        kind="skills",
        publisher=None,
        languages=["nl", "fr"],
    ),
]


class Settings(BaseSettings):
    """One class for the whole system; each service reads what it needs."""

    model_config = SettingsConfigDict(env_prefix="GUIDANCE_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # One server, or a NATS cluster's servers separated by commas (the client connects to
    # one of them and fails over to the others; see `nats_servers`).
    nats_url: str = "nats://127.0.0.1:4222"
    auth_mode: Literal["dev", "oidc"] = "dev"
    # Dev mode: the organisation of the demo people (`waypoint tokens`, the console's dev
    # sign-in). A benchmark gives its own, so that its bulk data stays out of the demo's.
    dev_organisation: str = Field(default="org-demo", min_length=1, max_length=200)
    jwt_secret: str | None = None
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str = "guidance"
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    # The provider's keys (shared/oidc/jwks.py): fetched with this timeout (so are the
    # discovery document and introspection answers), off the request
    # path; kept as long as the provider's Cache-Control max-age says, at most
    # `oidc_jwks_max_age_seconds` (a key the provider removed is refused within it) and at
    # least `oidc_jwks_min_age_seconds`. A token naming a key not in the set fetches the
    # set at once, at most once per `oidc_unknown_kid_interval_seconds`.
    oidc_http_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    oidc_jwks_max_age_seconds: float = Field(default=300.0, gt=0, le=86_400)
    oidc_jwks_min_age_seconds: float = Field(default=5.0, ge=0, le=3600)
    oidc_unknown_kid_interval_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Clock skew allowed between the provider and this host (exp, nbf and iat; oidc mode).
    oidc_leeway_seconds: int = Field(default=60, ge=0, le=600)
    # OpenID discovery (shared/oidc/discovery.py): the provider's JWKS URL, algorithms and
    # introspection endpoint read from `<issuer>/.well-known/openid-configuration`. None:
    # on when GUIDANCE_OIDC_JWKS_URL is not given. A URL given here overrides the document's.
    oidc_discovery: bool | None = None
    oidc_introspection_url: str | None = None
    # The client Waypoint authenticates as at the introspection endpoint (HTTP Basic).
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # An introspection answer is reused this long (never beyond the token's `exp`).
    oidc_introspection_cache_seconds: float = Field(default=30.0, ge=0, le=300)
    # Claim mapping (shared/oidc/claims.py): where each of our names is found in a token,
    # as a claim name or a dotted path (`realm_access.roles`); the defaults are the dev
    # tokens' names. A role map translates the provider's role names to ours (only the
    # roles it names count); a fixed organisation serves a deployment of one agency.
    oidc_roles_claim: str = Field(default="roles", min_length=1)
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    oidc_org_claim: str = Field(default="org", min_length=1)
    oidc_org: str | None = None
    oidc_partner_id_claim: str = Field(default="partner_id", min_length=1)
    oidc_audit_scope_claim: str = Field(default="audit_scope", min_length=1)
    master_key: str | None = None
    # The master key before a rotation (same format): keys it wrapped are still unwrapped
    # until `waypoint keys rotate` re-wraps them under the current one (deploy/k8s/README.md).
    master_key_previous: str | None = None
    # Ed25519 seed (base64, 32 bytes) that signs the audit chain's checkpoints.
    audit_signing_key: str | None = None

    # Intake
    hours_budget_default: float = Field(default=12.0, gt=0, le=500)
    # The hours budget per programme or funder (JSON: {"programme": hours}), set on a case
    # at acceptance when the acceptance names the programme (else the default above);
    # the share of the budget used from which a case shows a warning; and the minutes an
    # aftercare check-in done counts against the budget (follow-up records no duration).
    budget_programmes: dict[str, float] = Field(default_factory=dict)
    budget_warning_share: float = Field(default=0.8, gt=0, le=1)
    aftercare_checkin_minutes: int = Field(default=30, ge=0, le=600)
    # The versions of the agency's information on rights and duties a client can be
    # informed of (the newest last), and the days within which a complaint is answered
    rights_information_versions: list[str] = Field(
        default_factory=lambda: ["2026-01"], min_length=1
    )
    complaint_answer_days: int = Field(default=30, ge=1, le=365)
    # The agency's rhythm of appointments: the days from one meeting to the next, the last
    # repeating ([7, 7, 7, 14]: weekly for the first four meetings, then every two weeks);
    # the API proposes the next dates by it. An appointment lasts this long unless given.
    appointment_rhythm_days: list[int] = Field(
        default_factory=lambda: [7, 7, 7, 14], min_length=1, max_length=52
    )
    appointment_minutes_default: int = Field(default=60, ge=15, le=600)

    # Planning: the agency's instruments (tests, questionnaires) a plan records results of
    instruments: list[Instrument] = Field(
        default_factory=lambda: list(DEFAULT_INSTRUMENTS), min_length=1
    )

    # Planning: the limits of the SMART check
    plan_max_open_goals: int = Field(default=5, ge=1, le=50)
    plan_horizon_days: int = Field(default=548, ge=7, le=3650)
    plan_min_lead_days: int = Field(default=7, ge=0, le=365)

    # Follow-up: check-ins after the agreement (days), and when one counts as overdue
    followup_checkin_offsets_days: list[int] = Field(default_factory=lambda: [14, 91, 182])
    followup_overdue_grace_days: int = Field(default=7, ge=0, le=365)
    followup_overdue_interval_seconds: float = Field(default=300, gt=0)

    # Retention per purpose (shared/privacy/retention.py), each applied by its service's
    # job this often; a legal hold keeps everything:
    # - `guidance`: clients are erased this many years after their last case closed;
    # - `referral_packet`: a referral's packet (and the texts the partner received) is
    #   removed this many months after the referral ended; never longer than `guidance`;
    # - `statistics`: the anonymised outcome figures kept after a client's erasure are
    #   deleted this many years after their day.
    retention_years: int = Field(default=7, ge=1, le=100)
    retention_referral_packet_months: int = Field(default=12, ge=1, le=1200)
    retention_statistics_years: int = Field(default=10, ge=1, le=100)
    retention_interval_seconds: float = Field(default=3600, gt=0)

    # Every paginated list counts its rows for `X-Total-Count` up to this many, then
    # answers the cap with `X-Total-Count-Capped: true` (shared/paging.py): the count's
    # cost stays flat however long the history.
    list_count_cap: int = Field(default=10_000, ge=1)

    # Referral: the working days a partner has to answer a referral (Monday to Friday,
    # not the listed holidays), and how often the overdue job looks
    referral_answer_working_days: int = Field(default=5, ge=1, le=60)
    referral_holidays: list[date] = Field(default_factory=list)
    referral_overdue_interval_seconds: float = Field(default=300, gt=0)

    # Commands wait (up to 2 s) until the service's own read models show them, so
    # lists read what the caller just wrote.
    read_your_writes: bool = True
    # Concurrent saves of a service commit together (see shared/groupcommit.py).
    group_commit: bool = True
    # Idempotency-Key (shared/idempotency.py): how long a key and its answer are kept,
    # and how long a request holds its key before a retry may take it over (longer
    # than any command runs).
    idempotency_key_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    idempotency_lease_seconds: float = Field(default=10.0, gt=0, le=3600)
    gil_switch_interval: float = Field(default=0.0005, gt=0, le=0.1)

    # Which part of a service this process runs: `all`; `web` (HTTP and commands; the
    # relay, projections and consumers run elsewhere); `worker` (those, without HTTP);
    # `relay` (only the relays, so that publishing never queues behind the consumers'
    # work; a worker's relay then only stands in should the relay process be gone).
    role: Literal["all", "web", "worker", "relay"] = "all"

    # Console (services/console): the four APIs' base URL (None: this process's own
    # address, as `waypoint run` serves them beside the console); its sessions' idle and
    # absolute lifetimes; the session cookie is Secure outside dev mode.
    console_api_url: str | None = None
    console_session_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    console_session_absolute_hours: float = Field(default=10.0, gt=0, le=24 * 7)
    console_api_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The time zone the console shows moments in (an IANA name).
    console_timezone: str = "Europe/Amsterdam"
    # The console as an OpenID Connect client (oidc mode; services/console/oidc.py): its
    # client id at the provider of GUIDANCE_OIDC_ISSUER, its secret (None: a public
    # client, PKCE alone), the redirect URI registered there (None: `<this address>/sign-in/
    # callback`, from the request) and where the provider returns after logout (None:
    # `<this address>/sign-in`), the scopes asked for, and how long before the access
    # token's expiry it is refreshed. The sign-in button names the provider.
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: SecretStr | None = None
    console_oidc_redirect_uri: str | None = None
    console_oidc_post_logout_redirect_uri: str | None = None
    console_oidc_scopes: str = "openid profile email offline_access"
    console_oidc_refresh_margin_seconds: float = Field(default=60.0, ge=0, le=86_400)
    console_oidc_provider_name: str | None = None

    # Plumbing
    # Connections per service and process: the event store's pool keeps `db_pool_size`
    # open and grows by up to `db_max_overflow` under load (a worker process keeps one
    # and grows by at most 5); the read models' asyncpg pool has up to `read_pool_size`.
    # Mind PostgreSQL's max_connections with several services, processes and replicas.
    db_pool_size: int = Field(default=2, ge=1)
    db_max_overflow: int = Field(default=18, ge=0)
    read_pool_size: int = Field(default=4, ge=1)
    # The key vault's connections (one vault per process, whatever services it runs).
    vault_pool_size: int = Field(default=4, ge=1)
    # What this process's connections are called in pg_stat_activity (None:
    # `waypoint-<role>`); a replica's name (its pod's) tells who holds which connection.
    db_application_name: str | None = Field(default=None, max_length=63)
    relay_batch_size: int = Field(default=500, ge=1)
    # How long JetStream waits for a consumer's ack before it redelivers the message
    # (set when a durable consumer is first created).
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    stream_duplicate_window_seconds: int = Field(default=3600, ge=120)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    key_cache_seconds: float = Field(default=5.0, ge=0)
    # Where a destroyed key is announced to every process (core NATS; see
    # shared/privacy/broadcast.py), so that no replica's key cache outlives an erasure by
    # more than the announcement's round trip.
    key_invalidation_subject: str = Field(
        default="guidance.vault.key-destroyed", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    # The audit chain's head is signed every this many links (and on demand).
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    # A client's export (GDPR Art. 15/20) asks each service over NATS request-reply on
    # `<prefix>.<service>`; one that does not answer within the timeout fails the export.
    export_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    export_subject_prefix: str = Field(
        default="guidance.export", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    # An event a projection cannot apply, or a message whose effect keeps failing, is set
    # aside as a dead letter after this many attempts (see shared/messaging/deadletters.py).
    dead_letter_after_attempts: int = Field(default=5, ge=1, le=1000)
    # readyz answers 503 when a follower or consumer of this process is more than
    # `ready_max_lag` events behind for longer than `ready_lag_grace_seconds`, or when
    # dead letters have been waiting longer than `ready_dead_letter_grace_seconds`.
    ready_max_lag: int = Field(default=1000, ge=0)
    ready_lag_grace_seconds: float = Field(default=30.0, ge=0)
    ready_dead_letter_grace_seconds: float = Field(default=0.0, ge=0)
    host: str = "127.0.0.1"
    port: int = 8000
    # A `waypoint worker` (roles relay and worker, which serve no HTTP) serves its
    # Prometheus metrics (consumers' messages, followers' lag and lease) on this port of
    # `host`; None: none. The web role has them at `/<service>/metrics`.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # The largest request body accepted (413 beyond it); no command needs a tenth of it.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("appointment_rhythm_days")
    @classmethod
    def _rhythm(cls, days: list[int]) -> list[int]:
        if any(not 1 <= d <= 365 for d in days):
            raise ValueError("each interval of the rhythm is 1 to 365 days")
        return days

    @model_validator(mode="after")
    def _retention(self) -> Settings:
        if self.retention_referral_packet_months > 12 * self.retention_years:
            raise ValueError(
                "GUIDANCE_RETENTION_REFERRAL_PACKET_MONTHS cannot outlast the client file "
                "(GUIDANCE_RETENTION_YEARS)"
            )
        return self

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.auth_mode == "dev":
            self.jwt_secret = self.jwt_secret or run_jwt_secret()
            self.master_key = self.master_key or DEV_MASTER_KEY
            self.audit_signing_key = self.audit_signing_key or DEV_AUDIT_SIGNING_KEY
        else:
            missing = [
                name
                for name, value in (
                    # The JWKS URL may come from discovery, which needs the issuer.
                    (
                        "GUIDANCE_OIDC_JWKS_URL (or discovery)",
                        self.oidc_jwks_url or self.oidc_discovery is not False,
                    ),
                    ("GUIDANCE_OIDC_ISSUER", self.oidc_issuer),
                    ("GUIDANCE_MASTER_KEY", self.master_key),
                    ("GUIDANCE_AUDIT_SIGNING_KEY", self.audit_signing_key),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"oidc mode needs {', '.join(missing)}")
        assert self.master_key is not None
        try:
            key = base64.b64decode(self.master_key, validate=True)
        except ValueError as e:
            raise ValueError("GUIDANCE_MASTER_KEY must be base64") from e
        if len(key) != 32:
            raise ValueError("GUIDANCE_MASTER_KEY must decode to 32 bytes")
        # An empty value (a Secret's key left blank once the rotation is over) is none.
        self.master_key_previous = self.master_key_previous or None
        if self.master_key_previous is not None:
            try:
                previous = base64.b64decode(self.master_key_previous, validate=True)
            except ValueError as e:
                raise ValueError("GUIDANCE_MASTER_KEY_PREVIOUS must be base64") from e
            if len(previous) != 32:
                raise ValueError("GUIDANCE_MASTER_KEY_PREVIOUS must decode to 32 bytes")
            if previous == key:
                raise ValueError(
                    "GUIDANCE_MASTER_KEY_PREVIOUS is the current GUIDANCE_MASTER_KEY: "
                    "give the new key as GUIDANCE_MASTER_KEY and the old one as PREVIOUS"
                )
        assert self.audit_signing_key is not None
        try:
            seed = base64.b64decode(self.audit_signing_key, validate=True)
        except ValueError as e:
            raise ValueError("GUIDANCE_AUDIT_SIGNING_KEY must be base64") from e
        if len(seed) != 32:
            raise ValueError("GUIDANCE_AUDIT_SIGNING_KEY must decode to 32 bytes")
        return self

    @property
    def oidc_discovers(self) -> bool:
        """Whether the provider is configured from its discovery document."""
        if self.oidc_discovery is None:
            return self.auth_mode == "oidc" and not self.oidc_jwks_url
        return self.auth_mode == "oidc" and self.oidc_discovery

    @property
    def nats_servers(self) -> list[str]:
        """The servers of `nats_url` (a comma-separated list: a cluster's servers)."""
        return nats_servers(self.nats_url)

    @cached_property
    def master_key_bytes(self) -> bytes:
        assert self.master_key is not None
        return base64.b64decode(self.master_key)

    @cached_property
    def master_key_previous_bytes(self) -> bytes | None:
        """The previous master key during a rotation, else None."""
        if self.master_key_previous is None:
            return None
        return base64.b64decode(self.master_key_previous)

    @cached_property
    def audit_signing_seed(self) -> bytes:
        assert self.audit_signing_key is not None
        return base64.b64decode(self.audit_signing_key)

    @cached_property
    def pg(self) -> PgParams:
        params = PgParams.from_url(self.database_url)
        params.application_name = self.db_application_name or f"waypoint-{self.role}"
        return params


class PgParams:
    """The parts of a postgresql:// URL, for eventsourcing's POSTGRES_* keys and asyncpg."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        dbname: str,
        application_name: str | None = None,
    ) -> None:
        self.host, self.port, self.user, self.password, self.dbname = (
            host,
            port,
            user,
            password,
            dbname,
        )
        self.application_name = application_name

    @classmethod
    def from_url(cls, url: str) -> PgParams:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        # A Unix socket directory may be given as ?host=/path (as pgserver does).
        host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
        return cls(
            host=unquote(host),
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=unquote(parts.path.lstrip("/") or "postgres"),
        )

    def dsn(self) -> str:
        """A libpq keyword DSN, understood by psycopg and (with host as a dir) asyncpg."""
        from psycopg.conninfo import make_conninfo

        given = {"password": self.password} if self.password else {}
        if self.application_name:
            given["application_name"] = self.application_name
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=self.dbname, **given
        )

    def asyncpg_kwargs(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "database": self.dbname,
            **(
                {"server_settings": {"application_name": self.application_name}}
                if self.application_name
                else {}
            ),
        }


def nats_servers(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` as the list the NATS client takes (which, given one
    string, would read it as one server's address)."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("GUIDANCE_NATS_URL names no server")
    return servers


@cache
def run_jwt_secret() -> str:
    """Dev mode without GUIDANCE_JWT_SECRET: a random signing secret, one per process.
    `waypoint run` puts it in GUIDANCE_JWT_SECRET before it starts any other process, so
    that all of them share it, and writes it where `waypoint token` finds it."""
    return secrets.token_urlsafe(32)


def get_settings() -> Settings:
    return Settings()
