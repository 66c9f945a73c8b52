"""IdentityStore on SQLite (the embedded backend): one row per fact, one transaction per call,
in its own file next to the metadata so a registry's content and its identities can be backed up
or reset separately."""

from __future__ import annotations

import sqlite3
import time

from ...auth.identity_ports import NameTaken, UnknownName, robot_name_taken
from ...auth.model import AccessToken, AwsMapping, Team, User
from .sqlite_database import SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, admin INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS teams (
    org TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (org, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS team_members (
    org TEXT NOT NULL, team TEXT NOT NULL, user TEXT NOT NULL,
    PRIMARY KEY (org, team, user)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS team_members_by_user ON team_members (user);
CREATE TABLE IF NOT EXISTS public_names (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, secret_hash TEXT NOT NULL,
    namespaces TEXT NOT NULL, actions TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL, revoked INTEGER NOT NULL, description TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_by_owner ON tokens (owner);
CREATE TABLE IF NOT EXISTS aws_mappings (
    org TEXT NOT NULL, team TEXT NOT NULL, pattern TEXT NOT NULL,
    PRIMARY KEY (org, team, pattern)) WITHOUT ROWID;
"""

FILE = "identities.sqlite"


def _split(text: str) -> frozenset[str]:
    return frozenset(part for part in text.split(" ") if part)


def _join(values: frozenset[str]) -> str:
    return " ".join(sorted(values))


class SqliteIdentityStore:
    def __init__(self, path: str) -> None:
        self._database = SqliteDatabase(path, SCHEMA)
        self.path = self._database.path
        self._db = self._database.connection
        self._write = self._database.write

    def _rows(self, sql: str, *args: object) -> list[tuple]:
        return self._db().execute(sql, args).fetchall()

    # -- users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        with self._write() as db:
            self._claim_namespace(db, user.name, "user")
            db.execute(
                "INSERT INTO users (name, password_hash, admin) VALUES (?, ?, ?)",
                (user.name, user.password_hash, int(user.admin)),
            )

    def user(self, name: str) -> User | None:
        rows = self._rows("SELECT password_hash, admin FROM users WHERE name = ?", name)
        return User(name, rows[0][0], bool(rows[0][1])) if rows else None

    def users(self) -> list[User]:
        rows = self._rows("SELECT name, password_hash, admin FROM users ORDER BY name")
        return [User(name, hashed, bool(admin)) for name, hashed, admin in rows]

    def set_password(self, name: str, password_hash: str) -> None:
        with self._write() as db:
            changed = db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)
            ).rowcount
            if not changed:
                raise UnknownName(f"no user {name!r}")

    def remove_user(self, name: str) -> None:
        with self._write() as db:
            if not db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise UnknownName(f"no user {name!r}")
            db.execute("DELETE FROM namespaces WHERE name = ? AND kind = 'user'", (name,))
            db.execute("DELETE FROM team_members WHERE user = ?", (name,))
            # instr, not LIKE: '_' is a LIKE wildcard, and names may hold it.
            db.execute(
                "UPDATE tokens SET revoked = 1 WHERE owner = ? OR (kind = 'robot'"
                " AND instr(' ' || namespaces || ' ', ' ' || ? || ' ') > 0)",
                (name, name),
            )

    # -- organisations and teams ---------------------------------------------------------------
    def add_org(self, name: str) -> None:
        with self._write() as db:
            self._claim_namespace(db, name, "org")

    def is_org(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM namespaces WHERE name = ? AND kind = 'org'", name))

    def orgs(self) -> list[str]:
        rows = self._rows("SELECT name FROM namespaces WHERE kind = 'org' ORDER BY name")
        return [row[0] for row in rows]

    def remove_org(self, name: str) -> None:
        with self._write() as db:
            if not db.execute(
                "DELETE FROM namespaces WHERE name = ? AND kind = 'org'", (name,)
            ).rowcount:
                raise UnknownName(f"no organisation {name!r}")
            for table in ("teams", "team_members", "aws_mappings"):
                db.execute(f"DELETE FROM {table} WHERE org = ?", (name,))  # noqa: S608
            db.execute(
                "UPDATE tokens SET revoked = 1 WHERE kind = 'robot' AND (owner = ? OR"
                " instr(' ' || namespaces || ' ', ' ' || ? || ' ') > 0)",
                (name, name),
            )

    def put_team(self, team: Team) -> None:
        with self._write() as db:
            self._need_org(db, team.org)
            db.execute(
                "INSERT INTO teams (org, name, role) VALUES (?, ?, ?)"
                " ON CONFLICT (org, name) DO UPDATE SET role = excluded.role",
                (team.org, team.name, team.role),
            )

    def remove_team(self, org: str, name: str) -> None:
        with self._write() as db:
            if not db.execute("DELETE FROM teams WHERE org = ? AND name = ?", (org, name)).rowcount:
                raise UnknownName(f"no team {org}/{name}")
            db.execute("DELETE FROM team_members WHERE org = ? AND team = ?", (org, name))
            db.execute("DELETE FROM aws_mappings WHERE org = ? AND team = ?", (org, name))

    def add_member(self, org: str, team: str, user: str) -> None:
        with self._write() as db:
            if not db.execute(
                "SELECT 1 FROM teams WHERE org = ? AND name = ?", (org, team)
            ).fetchone():
                raise UnknownName(f"no team {org}/{team}")
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone():
                raise UnknownName(f"no user {user!r}")
            db.execute(
                "INSERT OR IGNORE INTO team_members (org, team, user) VALUES (?, ?, ?)",
                (org, team, user),
            )

    def remove_member(self, org: str, team: str, user: str) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM team_members WHERE org = ? AND team = ? AND user = ?",
                (org, team, user),
            )

    def teams(self, org: str | None = None) -> list[Team]:
        where, args = ("WHERE org = ?", (org,)) if org else ("", ())
        rows = self._rows(f"SELECT org, name, role FROM teams {where} ORDER BY org, name", *args)
        return [self._team(*row) for row in rows]

    def teams_of(self, user: str) -> list[Team]:
        rows = self._rows(
            "SELECT t.org, t.name, t.role FROM team_members m"
            " JOIN teams t ON t.org = m.org AND t.name = m.team WHERE m.user = ?"
            " ORDER BY t.org, t.name",
            user,
        )
        return [self._team(*row) for row in rows]

    def _team(self, org: str, name: str, role: str) -> Team:
        members = self._rows("SELECT user FROM team_members WHERE org = ? AND team = ?", org, name)
        return Team(org, name, role, frozenset(member for (member,) in members))

    # -- public marks --------------------------------------------------------------------------
    def set_public(self, name: str, public: bool) -> None:
        with self._write() as db:
            if public:
                db.execute("INSERT OR IGNORE INTO public_names (name) VALUES (?)", (name,))
            else:
                db.execute("DELETE FROM public_names WHERE name = ?", (name,))

    def is_public(self, repository: str) -> bool:
        namespace = repository.split("/", 1)[0]
        rows = self._rows("SELECT 1 FROM public_names WHERE name IN (?, ?)", repository, namespace)
        return bool(rows)

    def public_marks(self, namespace: str) -> list[str]:
        # Repositories of the namespace sort between "ns/" and "ns0" ('0' follows '/').
        rows = self._rows(
            "SELECT name FROM public_names WHERE name = ? OR (name > ? AND name < ?) ORDER BY name",
            namespace,
            f"{namespace}/",
            f"{namespace}0",
        )
        return [name for (name,) in rows]

    # -- access tokens -------------------------------------------------------------------------
    def add_token(self, token: AccessToken) -> None:
        with self._write() as db:
            if token.kind == "robot" and token.description:
                self._need_free_robot_name(db, token)
            db.execute(
                "INSERT INTO tokens (id, kind, owner, secret_hash, namespaces, actions,"
                " created_at, expires_at, revoked, description)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.kind,
                    token.owner,
                    token.secret_hash,
                    _join(token.namespaces),
                    _join(token.actions),
                    token.created_at,
                    token.expires_at,
                    int(token.revoked),
                    token.description,
                ),
            )

    def token(self, token_id: str) -> AccessToken | None:
        rows = self._rows(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", token_id)
        return _token(rows[0]) if rows else None

    def tokens(self, owner: str | None = None) -> list[AccessToken]:
        where, args = ("WHERE owner = ?", (owner,)) if owner else ("", ())
        rows = self._rows(f"SELECT {_TOKEN_COLUMNS} FROM tokens {where} ORDER BY created_at", *args)
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str) -> None:
        with self._write() as db:
            if not db.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount:
                raise UnknownName(f"no token {token_id!r}")

    # -- AWS logins ----------------------------------------------------------------------------
    def add_aws_mapping(self, mapping: AwsMapping) -> None:
        with self._write() as db:
            team = (mapping.org, mapping.team)
            if not db.execute("SELECT 1 FROM teams WHERE org = ? AND name = ?", team).fetchone():
                raise UnknownName(f"no team {mapping.org}/{mapping.team}")
            db.execute(
                "INSERT OR IGNORE INTO aws_mappings (org, team, pattern) VALUES (?, ?, ?)",
                (*team, mapping.pattern),
            )

    def remove_aws_mapping(self, mapping: AwsMapping) -> None:
        with self._write() as db:
            if not db.execute(
                "DELETE FROM aws_mappings WHERE org = ? AND team = ? AND pattern = ?",
                (mapping.org, mapping.team, mapping.pattern),
            ).rowcount:
                raise UnknownName(
                    f"no mapping of {mapping.pattern} to {mapping.org}/{mapping.team}"
                )

    def aws_mappings(self) -> list[AwsMapping]:
        rows = self._rows("SELECT pattern, org, team FROM aws_mappings ORDER BY org, team, pattern")
        return [AwsMapping(*row) for row in rows]

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _claim_namespace(db: sqlite3.Connection, name: str, kind: str) -> None:
        try:
            db.execute("INSERT INTO namespaces (name, kind) VALUES (?, ?)", (name, kind))
        except sqlite3.IntegrityError:
            raise NameTaken(f"the name {name!r} is taken by a user or organisation") from None

    @staticmethod
    def _need_free_robot_name(db: sqlite3.Connection, token: AccessToken) -> None:
        taken = db.execute(
            "SELECT id FROM tokens WHERE kind = 'robot' AND owner = ? AND description = ?"
            " AND revoked = 0 AND (expires_at IS NULL OR expires_at > ?)",
            (token.owner, token.description, time.time()),
        ).fetchone()
        if taken:
            raise NameTaken(robot_name_taken(token, taken[0]))

    @staticmethod
    def _need_org(db: sqlite3.Connection, org: str) -> None:
        row = db.execute("SELECT kind FROM namespaces WHERE name = ?", (org,)).fetchone()
        if not row or row[0] != "org":
            raise UnknownName(f"no organisation {org!r}")


_TOKEN_COLUMNS = (
    "id, kind, owner, secret_hash, namespaces, actions, created_at, expires_at, revoked,"
    " description"
)


def _token(row: tuple) -> AccessToken:
    token_id, kind, owner, hashed, namespaces, actions, created, expires, revoked, text = row
    return AccessToken(
        id=token_id,
        kind=kind,
        owner=owner,
        secret_hash=hashed,
        namespaces=_split(namespaces),
        actions=_split(actions),
        created_at=created,
        expires_at=expires,
        revoked=bool(revoked),
        description=text,
    )
