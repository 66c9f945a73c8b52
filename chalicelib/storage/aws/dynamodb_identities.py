"""IdentityStore on the registry's one DynamoDB table, beside the repository items (whose keys
all start with R#, B# or CATALOG, so these never collide). No Scan: every listing is a Query.

Items (pk, sk):
  NAME#<name>        NAME             a user's or organisation's namespace: kind
  USERS              <name>           a user: password_hash, admin
  TEAMS              <org>#<team>     a team: role
  MEMBERS#<org>#<team> <user>         a member of a team
  MEMBER_OF#<user>   <org>#<team>     the same membership, found from the user
  PUBLIC             <name>           a namespace or repository anyone may pull
  TOKENS             <id>             a robot account or personal access token (hash only)
  ORGS               <org>            an organisation, to list them without a Scan
  ROBOT_NAMES        <namespace>+<name>  the token id of the robot that last took this name
  AWS_MAPPINGS       <org>#<team>#<pattern>  an IAM ARN pattern whose logins join the team

Names never contain '#': they follow the repository-name component grammar
(chalicelib/auth/names.py); an ARN pattern might, so it comes last in its key. Multi-item
changes are transactions, so a name is taken once and a membership exists in both directions or
in neither. Removing a user takes its memberships, personal tokens and robots first and the
user last: a crash in between leaves a user with fewer rights, never rights left behind for a
future user of the same name. A named robot takes its ROBOT_NAMES item in the transaction
that stores it, on condition that the item is absent or still names the token read as no
longer usable, so two robots of one name never both come to life.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ...auth.identity_ports import NameTaken, UnknownName, robot_name_taken
from ...auth.model import AccessToken, AwsMapping, Team, User


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


class DynamoIdentityStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.db = dynamodb
        self.table = table

    # -- low-level helpers -------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if not pk or not sk:  # DynamoDB refuses empty key values; no such item can exist
            return None
        reply = self.db.get_item(TableName=self.table, Key=_key(pk, sk), ConsistentRead=True)
        return reply.get("Item")

    def _query(self, pk: str, prefix: str = "") -> Iterator[dict[str, Any]]:
        condition, values = "pk = :pk", {":pk": _s(pk)}
        if prefix:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = _s(prefix)
        pages = self.db.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
        for page in pages:
            yield from page["Items"]

    def _transact(self, items: list[dict[str, Any]], refusal: Exception) -> None:
        try:
            self.db.transact_write_items(TransactItems=items)
        except self.db.exceptions.TransactionCanceledException:
            raise refusal from None

    def _put(self, pk: str, sk: str, **attributes: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self.table, "Item": {**_key(pk, sk), **attributes}}

    # -- users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        self._transact(
            [
                self._claim(user.name, "user"),
                {
                    "Put": self._put(
                        "USERS",
                        user.name,
                        password_hash=_s(user.password_hash),
                        admin={"BOOL": user.admin},
                    )
                },
            ],
            NameTaken(f"the name {user.name!r} is taken by a user or organisation"),
        )

    def user(self, name: str) -> User | None:
        item = self._get("USERS", name)
        return _user(item) if item else None

    def users(self) -> list[User]:
        return [_user(item) for item in self._query("USERS")]

    def set_password(self, name: str, password_hash: str) -> None:
        try:
            self.db.update_item(
                TableName=self.table,
                Key=_key("USERS", name),
                UpdateExpression="SET password_hash = :hash",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":hash": _s(password_hash)},
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            raise UnknownName(f"no user {name!r}") from None

    def remove_user(self, name: str) -> None:
        if self.user(name) is None:
            raise UnknownName(f"no user {name!r}")
        for team in self.teams_of(name):
            self.remove_member(team.org, team.name, name)
        for token in self.tokens():
            naming = token.kind == "robot" and name in token.namespaces
            if (token.owner == name or naming) and not token.revoked:
                self.revoke_token(token.id)
        self._transact(
            [
                {"Delete": {"TableName": self.table, "Key": _key("USERS", name)}},
                {"Delete": {"TableName": self.table, "Key": _key(f"NAME#{name}", "NAME")}},
            ],
            UnknownName(f"no user {name!r}"),
        )

    # -- organisations and teams ---------------------------------------------------------------
    def add_org(self, name: str) -> None:
        self._transact(
            [self._claim(name, "org"), {"Put": self._put("ORGS", name)}],
            NameTaken(f"the name {name!r} is taken by a user or organisation"),
        )

    def orgs(self) -> list[str]:
        return sorted(item["sk"]["S"] for item in self._query("ORGS"))

    def remove_org(self, name: str) -> None:
        """Teams and robots first, the name last (as remove_user): a crash in between leaves
        an organisation with fewer rights, never rights left for a future holder of the name."""
        if not self.is_org(name):
            raise UnknownName(f"no organisation {name!r}")
        for team in self.teams(name):
            self.remove_team(name, team.name)
        for token in self.tokens():
            naming = token.owner == name or name in token.namespaces
            if token.kind == "robot" and naming and not token.revoked:
                self.revoke_token(token.id)
        self._transact(
            [
                {"Delete": {"TableName": self.table, "Key": _key("ORGS", name)}},
                {
                    "Delete": {
                        **self._check(f"NAME#{name}", "NAME", "kind = :org"),
                        "ExpressionAttributeValues": {":org": _s("org")},
                    }
                },
            ],
            UnknownName(f"no organisation {name!r}"),
        )

    def is_org(self, name: str) -> bool:
        item = self._get(f"NAME#{name}", "NAME")
        return bool(item and item["kind"]["S"] == "org")

    def put_team(self, team: Team) -> None:
        self._transact(
            [
                self._is_org_check(team.org),
                {"Put": self._put("TEAMS", f"{team.org}#{team.name}", role=_s(team.role))},
            ],
            UnknownName(f"no organisation {team.org!r}"),
        )

    def remove_team(self, org: str, name: str) -> None:
        if self._get("TEAMS", f"{org}#{name}") is None:
            raise UnknownName(f"no team {org}/{name}")
        for item in self._query(f"MEMBERS#{org}#{name}"):
            self.remove_member(org, name, item["sk"]["S"])
        for item in self._query("AWS_MAPPINGS", f"{org}#{name}#"):
            self.db.delete_item(TableName=self.table, Key=_key("AWS_MAPPINGS", item["sk"]["S"]))
        self.db.delete_item(TableName=self.table, Key=_key("TEAMS", f"{org}#{name}"))

    def add_member(self, org: str, team: str, user: str) -> None:
        exists = "attribute_exists(pk)"
        self._transact(
            [
                {"ConditionCheck": self._check("TEAMS", f"{org}#{team}", exists)},
                {"ConditionCheck": self._check("USERS", user, exists)},
                {"Put": self._put(f"MEMBERS#{org}#{team}", user)},
                {"Put": self._put(f"MEMBER_OF#{user}", f"{org}#{team}")},
            ],
            UnknownName(f"no team {org}/{team} or no user {user!r}"),
        )

    def remove_member(self, org: str, team: str, user: str) -> None:
        self.db.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self.table, "Key": _key(f"MEMBERS#{org}#{team}", user)}},
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _key(f"MEMBER_OF#{user}", f"{org}#{team}"),
                    }
                },
            ]
        )

    def teams(self, org: str | None = None) -> list[Team]:
        items = self._query("TEAMS", f"{org}#" if org else "")
        return [self._team(item["sk"]["S"], item["role"]["S"]) for item in items]

    def teams_of(self, user: str) -> list[Team]:
        teams = []
        for item in self._query(f"MEMBER_OF#{user}"):
            team = self._get("TEAMS", item["sk"]["S"])
            if team is not None:
                teams.append(self._team(item["sk"]["S"], team["role"]["S"]))
        return teams

    def _team(self, sort_key: str, role: str) -> Team:
        org, name = sort_key.split("#", 1)
        members = frozenset(item["sk"]["S"] for item in self._query(f"MEMBERS#{sort_key}"))
        return Team(org, name, role, members)

    # -- public marks --------------------------------------------------------------------------
    def set_public(self, name: str, public: bool) -> None:
        if public:
            self.db.put_item(**self._put("PUBLIC", name))
        else:
            self.db.delete_item(TableName=self.table, Key=_key("PUBLIC", name))

    def is_public(self, repository: str) -> bool:
        names = {repository, repository.split("/", 1)[0]}
        reply = self.db.batch_get_item(
            RequestItems={
                self.table: {
                    "Keys": [_key("PUBLIC", name) for name in names],
                    "ConsistentRead": True,
                }
            }
        )
        return bool(reply["Responses"].get(self.table))

    def public_marks(self, namespace: str) -> list[str]:
        marks = [item["sk"]["S"] for item in self._query("PUBLIC", f"{namespace}/")]
        return ([namespace] if self._get("PUBLIC", namespace) else []) + marks

    # -- access tokens -------------------------------------------------------------------------
    def add_token(self, token: AccessToken) -> None:
        item = {
            "kind": _s(token.kind),
            "owner": _s(token.owner),
            "secret_hash": _s(token.secret_hash),
            "namespaces": {"SS": sorted(token.namespaces)},
            "actions": {"SS": sorted(token.actions)},
            "created_at": {"N": repr(token.created_at)},
            "revoked": {"BOOL": token.revoked},
            "description": _s(token.description),
        }
        if token.expires_at is not None:
            # Not `expires_at`: that attribute is the table's TTL, and an expired token should
            # stay listed (as expired) rather than vanish.
            item["valid_until"] = {"N": repr(token.expires_at)}
        put = self._put("TOKENS", token.id, **item)
        put["ConditionExpression"] = "attribute_not_exists(pk)"
        if token.kind != "robot" or not token.description:
            self.db.put_item(**put)
            return
        self._transact(
            [self._claim_robot_name(token), {"Put": put}],
            NameTaken(robot_name_taken(token, "created just now")),
        )

    def _claim_robot_name(self, token: AccessToken) -> dict[str, Any]:
        """The transaction item that gives the robot's name to `token`; raises NameTaken when a
        live robot holds it (robots from before ROBOT_NAMES items are found by listing)."""
        now = time.time()
        for other in self.tokens(token.owner):
            same = other.kind == "robot" and other.description == token.description
            if same and other.usable(now):
                raise NameTaken(robot_name_taken(token, other.id))
        login = f"{token.owner}+{token.description}"
        held = self._get("ROBOT_NAMES", login)
        claim = self._put("ROBOT_NAMES", login, token_id=_s(token.id))
        if held is None:
            claim["ConditionExpression"] = "attribute_not_exists(pk)"
        else:  # its robot is revoked or expired (the listing above): replace it, if still so
            claim["ConditionExpression"] = "token_id = :held"
            claim["ExpressionAttributeValues"] = {":held": held["token_id"]}
        return {"Put": claim}

    def token(self, token_id: str) -> AccessToken | None:
        item = self._get("TOKENS", token_id)
        return _token(item) if item else None

    def tokens(self, owner: str | None = None) -> list[AccessToken]:
        tokens = [_token(item) for item in self._query("TOKENS")]
        tokens = [token for token in tokens if owner is None or token.owner == owner]
        return sorted(tokens, key=lambda token: token.created_at)

    def revoke_token(self, token_id: str) -> None:
        try:
            self.db.update_item(
                TableName=self.table,
                Key=_key("TOKENS", token_id),
                UpdateExpression="SET revoked = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            raise UnknownName(f"no token {token_id!r}") from None

    # -- AWS logins ----------------------------------------------------------------------------
    def add_aws_mapping(self, mapping: AwsMapping) -> None:
        team = f"{mapping.org}#{mapping.team}"
        self._transact(
            [
                {"ConditionCheck": self._check("TEAMS", team, "attribute_exists(pk)")},
                {"Put": self._put("AWS_MAPPINGS", f"{team}#{mapping.pattern}")},
            ],
            UnknownName(f"no team {mapping.org}/{mapping.team}"),
        )

    def remove_aws_mapping(self, mapping: AwsMapping) -> None:
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=_key("AWS_MAPPINGS", f"{mapping.org}#{mapping.team}#{mapping.pattern}"),
                ConditionExpression="attribute_exists(pk)",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            raise UnknownName(
                f"no mapping of {mapping.pattern} to {mapping.org}/{mapping.team}"
            ) from None

    def aws_mappings(self) -> list[AwsMapping]:
        mappings = []
        for item in self._query("AWS_MAPPINGS"):
            org, team, pattern = item["sk"]["S"].split("#", 2)
            mappings.append(AwsMapping(pattern, org, team))
        return sorted(mappings, key=lambda m: (m.org, m.team, m.pattern))

    # -- conditions ----------------------------------------------------------------------------
    def _claim(self, name: str, kind: str) -> dict[str, Any]:
        return {
            "Put": {
                **self._put(f"NAME#{name}", "NAME", kind=_s(kind)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _check(self, pk: str, sk: str, condition: str) -> dict[str, Any]:
        return {"TableName": self.table, "Key": _key(pk, sk), "ConditionExpression": condition}

    def _is_org_check(self, org: str) -> dict[str, Any]:
        check = self._check(f"NAME#{org}", "NAME", "kind = :org")
        check["ExpressionAttributeValues"] = {":org": _s("org")}
        return {"ConditionCheck": check}


def _user(item: dict[str, Any]) -> User:
    return User(item["sk"]["S"], item["password_hash"]["S"], item["admin"]["BOOL"])


def _token(item: dict[str, Any]) -> AccessToken:
    valid_until = item.get("valid_until")
    return AccessToken(
        id=item["sk"]["S"],
        kind=item["kind"]["S"],
        owner=item["owner"]["S"],
        secret_hash=item["secret_hash"]["S"],
        namespaces=frozenset(item["namespaces"]["SS"]),
        actions=frozenset(item["actions"]["SS"]),
        created_at=float(item["created_at"]["N"]),
        expires_at=float(valid_until["N"]) if valid_until else None,
        revoked=item["revoked"]["BOOL"],
        description=item["description"]["S"],
    )
