"""Server-side sessions in the console's own schema (`console.sessions`).

The browser holds only a random 256-bit id; the table keeps its SHA-256, never the id
itself, so a copy of the table opens no session. The user's access token (in oidc mode
also the refresh and ID tokens) is sealed (AES-GCM, a key derived from the master key,
bound to the session's row and to which token it is) and never logged.
A session ends after `console_session_idle_minutes` without a request, after
`console_session_absolute_hours` in any case, and at logout (its row deleted).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS console;
CREATE TABLE IF NOT EXISTS console.sessions (
    id_hash bytea PRIMARY KEY,
    subject text NOT NULL,
    organisation text NOT NULL,
    roles text[] NOT NULL,
    partner_id text,
    access_token bytea NOT NULL,
    csrf_secret text NOT NULL,
    language text,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON console.sessions (expires_at);
-- oidc mode: the refresh and ID tokens (sealed like the access token) and when the
-- access token expires (refreshed before then).
ALTER TABLE console.sessions ADD COLUMN IF NOT EXISTS refresh_token bytea;
ALTER TABLE console.sessions ADD COLUMN IF NOT EXISTS id_token bytea;
ALTER TABLE console.sessions ADD COLUMN IF NOT EXISTS token_expires_at timestamptz;
"""
# What a sealed token is bound to besides its session (the access token: nothing more).
REFRESH, ID = b"/refresh", b"/id"
# A session's last_seen_at is written at most this often (not on every page).
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Session:
    id_hash: bytes
    subject: str
    organisation: str
    roles: tuple[str, ...]
    partner_id: str | None
    access_token: str
    csrf_secret: str
    language: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    # oidc mode: the provider's refresh and ID tokens, and the access token's expiry.
    refresh_token: str | None = None
    id_token: str | None = None
    token_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never the token, never the CSRF secret
        return f"Session(subject={self.subject!r}, organisation={self.organisation!r})"

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf_secret)


def hash_id(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def _derive(master_key: bytes) -> AESGCM:
    return AESGCM(
        HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"waypoint console sessions"
        ).derive(master_key)
    )


class Sealer:
    """AES-GCM with a key of its own, derived from the master key. During a rotation of the
    master key, what the previous one sealed still opens (sessions and sign-in flows begun
    before it); everything is sealed with the current one."""

    def __init__(self, master_key: bytes, previous_key: bytes | None = None) -> None:
        self._aead = _derive(master_key)
        self._previous = _derive(previous_key) if previous_key is not None else None

    def seal(self, plain: str, bound_to: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plain.encode(), bound_to)

    def open(self, sealed: bytes, bound_to: bytes) -> str:
        """The plain text; InvalidTag when neither key opens it."""
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], bound_to).decode()
        except InvalidTag:
            if self._previous is None:
                raise
            return self._previous.decrypt(sealed[:12], sealed[12:], bound_to).decode()


class SessionStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        sealer: Sealer,
        *,
        idle: timedelta,
        absolute: timedelta,
    ) -> None:
        self.pool, self.sealer, self.idle, self.absolute = pool, sealer, idle, absolute

    async def create(
        self,
        *,
        subject: str,
        organisation: str,
        roles: list[str],
        partner_id: str | None,
        access_token: str,
        language: str | None,
        now: datetime | None = None,
        refresh_token: str | None = None,
        id_token: str | None = None,
        token_expires_at: datetime | None = None,
    ) -> tuple[str, Session]:
        """A new session; returns the raw id (for the cookie only) and the session."""
        now = now or datetime.now(UTC)
        raw = secrets.token_urlsafe(32)  # 256 bits
        id_hash = hash_id(raw)
        session = Session(
            id_hash=id_hash,
            subject=subject,
            organisation=organisation,
            roles=tuple(roles),
            partner_id=partner_id,
            access_token=access_token,
            csrf_secret=secrets.token_urlsafe(32),
            language=language,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
            refresh_token=refresh_token,
            id_token=id_token,
            token_expires_at=token_expires_at,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            # Sessions past either expiry go as new ones come.
            await conn.execute(
                "DELETE FROM console.sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                now,
                now - self.idle,
            )
            await conn.execute(
                "INSERT INTO console.sessions (id_hash, subject, organisation, roles, "
                "partner_id, access_token, csrf_secret, language, created_at, last_seen_at, "
                "expires_at, refresh_token, id_token, token_expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)",
                id_hash,
                subject,
                organisation,
                list(roles),
                partner_id,
                self.sealer.seal(access_token, id_hash),
                session.csrf_secret,
                language,
                now,
                session.expires_at,
                self._seal(refresh_token, id_hash, REFRESH),
                self._seal(id_token, id_hash, ID),
                token_expires_at,
            )
        return raw, session

    def _seal(self, token: str | None, id_hash: bytes, which: bytes) -> bytes | None:
        return None if token is None else self.sealer.seal(token, id_hash + which)

    def _open(self, sealed: bytes | None, id_hash: bytes, which: bytes) -> str | None:
        return None if sealed is None else self.sealer.open(sealed, id_hash + which)

    async def get(self, raw: str | None, now: datetime | None = None) -> Session | None:
        """The live session of this id, or None (unknown, idle too long or expired: such
        a row is deleted)."""
        if not raw or len(raw) > 100:
            return None
        now = now or datetime.now(UTC)
        id_hash = hash_id(raw)
        row = await self.pool.fetchrow("SELECT * FROM console.sessions WHERE id_hash = $1", id_hash)
        if row is None:
            return None
        if row["expires_at"] <= now or row["last_seen_at"] + self.idle <= now:
            await self.pool.execute("DELETE FROM console.sessions WHERE id_hash = $1", id_hash)
            return None
        if now - row["last_seen_at"] >= TOUCH_EVERY:
            await self.pool.execute(
                "UPDATE console.sessions SET last_seen_at = $2 WHERE id_hash = $1", id_hash, now
            )
        try:
            return self._session(row, last_seen=max(now, row["last_seen_at"]))
        except InvalidTag:
            # Sealed under a master key no longer given (rotated, its previous key since
            # removed): the session is over, its person signs in again.
            await self.pool.execute("DELETE FROM console.sessions WHERE id_hash = $1", id_hash)
            return None

    def _session(self, row: Any, last_seen: datetime) -> Session:
        return Session(
            id_hash=row["id_hash"],
            subject=row["subject"],
            organisation=row["organisation"],
            roles=tuple(row["roles"]),
            partner_id=row["partner_id"],
            access_token=self.sealer.open(row["access_token"], row["id_hash"]),
            csrf_secret=row["csrf_secret"],
            language=row["language"],
            created_at=row["created_at"],
            last_seen_at=last_seen,
            expires_at=row["expires_at"],
            refresh_token=self._open(row["refresh_token"], row["id_hash"], REFRESH),
            id_token=self._open(row["id_token"], row["id_hash"], ID),
            token_expires_at=row["token_expires_at"],
        )

    @asynccontextmanager
    async def exclusive(self, session: Session) -> AsyncIterator[asyncpg.Connection]:
        """A connection holding this session's lock, for one request of any console
        process at a time (a refresh: the provider takes a refresh token only once); the
        lock ends with the transaction. Read and write the session on this connection."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('console.session:' || "
                "encode($1, 'hex'), 0))",
                session.id_hash,
            )
            yield conn

    async def reload(
        self, session: Session, conn: asyncpg.Connection | None = None
    ) -> Session | None:
        """The session as stored now (another request may have refreshed its tokens)."""
        row = await (conn or self.pool).fetchrow(
            "SELECT * FROM console.sessions WHERE id_hash = $1", session.id_hash
        )
        return None if row is None else self._session(row, last_seen=session.last_seen_at)

    async def update_tokens(
        self,
        session: Session,
        *,
        access_token: str,
        refresh_token: str | None,
        id_token: str | None,
        token_expires_at: datetime | None,
        roles: list[str],
        partner_id: str | None,
        conn: asyncpg.Connection | None = None,
    ) -> Session:
        """The session after a refresh: its new tokens, and the roles they now carry."""
        id_hash = session.id_hash
        await (conn or self.pool).execute(
            "UPDATE console.sessions SET access_token = $2, refresh_token = $3, id_token = $4, "
            "token_expires_at = $5, roles = $6, partner_id = $7 WHERE id_hash = $1",
            id_hash,
            self.sealer.seal(access_token, id_hash),
            self._seal(refresh_token, id_hash, REFRESH),
            self._seal(id_token, id_hash, ID),
            token_expires_at,
            list(roles),
            partner_id,
        )
        return replace(
            session,
            access_token=access_token,
            refresh_token=refresh_token,
            id_token=id_token,
            token_expires_at=token_expires_at,
            roles=tuple(roles),
            partner_id=partner_id,
        )

    async def set_language(self, session: Session, language: str) -> None:
        await self.pool.execute(
            "UPDATE console.sessions SET language = $2 WHERE id_hash = $1",
            session.id_hash,
            language,
        )

    async def delete(self, session: Session, conn: asyncpg.Connection | None = None) -> None:
        await (conn or self.pool).execute(
            "DELETE FROM console.sessions WHERE id_hash = $1", session.id_hash
        )
