"""A store's people: one account at a time (``add_staff``) or a whole staff list from a
spreadsheet (``import_roster``), for going live without the demo.

The roster is read like a DMS export (``customers/tables.py``: XLSX/XLS/CSV in any of the
usual encodings, a title row above the header allowed; headers compared like the archive
import's, ``import_columns.norm_header``). Chinese or English headers:

    姓名 (name) · 用户名/工号/账号 (username) · 岗位/角色/职务 (roles: 服务顾问, 前台主管,
    服务经理, 行政/客服/管理员, 审计, or the English role names; several separated by 、,/;)
    · 通知地址/Apprise (the notification URL) · 企业微信/钉钉/邮箱 (used as the notification
    URL when it is one: wecombot://…, dingtalk://…, mailto://…) · 手机 (read, checked)

Every problem of a row is reported (row, column, reason), not only the first; the rows without
a problem land, each in a savepoint of its own. A generated password is returned once per new
account, which must be changed at the first log-in (``Staff.must_change_password``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.accounts import passwords
from winback.accounts import service as accounts
from winback.accounts.models import Role, Staff, Store
from winback.actor import Actor
from winback.customers.import_columns import norm_header
from winback.customers.import_values import cell_phone, cell_text
from winback.customers.tables import read_table
from winback.errors import Conflict, DomainError, InvalidInput
from winback.i18n import Message
from winback.notifications import channels
from winback.stores import create_store

HEADERS: dict[str, list[str]] = {
    "name": ["姓名", "员工姓名", "名字", "name", "full name", "display name"],
    "username": [
        "用户名",
        "工号",
        "账号",
        "帐号",
        "登录名",
        "员工编号",
        "username",
        "user",
        "login",
        "staff id",
    ],
    "roles": ["岗位", "角色", "职务", "职位", "role", "roles", "position", "job"],
    "phone": ["手机", "手机号", "手机号码", "电话", "联系电话", "mobile", "phone"],
    "notify": ["通知地址", "通知", "通知渠道", "apprise", "apprise url", "notify", "notification url"],
    "wecom": ["企业微信", "企微", "wecom", "wechat work"],
    "dingtalk": ["钉钉", "dingtalk"],
    "email": ["邮箱", "电子邮箱", "邮件", "email", "e-mail", "mail"],
}
REQUIRED = ("name", "username", "roles")
# The notification URL: the first of these columns that holds one.
CHANNEL_FIELDS = ("notify", "wecom", "dingtalk", "email")
_BY_HEADER = {norm_header(h): f for f, hs in HEADERS.items() for h in hs}

# What dealers call the roles (the reference deck's words first), compared without spaces/case.
ROLE_WORDS: dict[str, Role] = {
    **{r.value: r for r in Role},
    "服务顾问": Role.advisor,
    "顾问": Role.advisor,
    "sa": Role.advisor,
    "serviceadvisor": Role.advisor,
    "前台主管": Role.supervisor,
    "前台经理": Role.supervisor,
    "主管": Role.supervisor,
    "服务经理": Role.manager,
    "售后经理": Role.manager,
    "总经理": Role.manager,
    "servicemanager": Role.manager,
    "管理员": Role.admin,
    "行政": Role.admin,
    "行政部": Role.admin,
    "客服": Role.admin,
    "行政/客服": Role.admin,
    "administrator": Role.admin,
    "审计": Role.auditor,
}
_ROLE_SPLIT = re.compile(r"[、,，;；|+\s]+")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")


def parse_roles(text: str | None) -> list[Role]:
    """``"服务顾问、前台主管"`` -> [advisor, supervisor]; InvalidInput naming an unknown word."""
    words = [w for w in _ROLE_SPLIT.split((text or "").strip()) if w]
    if not words:
        raise InvalidInput("give at least one role", field="roles")
    roles: list[Role] = []
    for word in words:
        role = ROLE_WORDS.get(word.lower()) or ROLE_WORDS.get(word)
        if role is None:
            raise InvalidInput(
                "unknown role '{role}'; one of: advisor, supervisor, manager, admin, auditor",
                role=word,
                field="roles",
            )
        if role not in roles:
            roles.append(role)
    return roles


def check_notify_url(url: str | None) -> str | None:
    """A staff list's channel cell, checked by the one rule of ``notifications.channels``
    (stripped, None for none), its refusal worded for a file's column: the schemes as examples
    between Chinese words, no English list in a Chinese line."""
    try:
        return channels.check_url(url)
    except InvalidInput:
        url = (url or "").strip()
        raise InvalidInput(
            "not a notification URL Apprise can send to (such as {json}, e-mail {mailto}, "
            "WeCom {wecom}, DingTalk {dingtalk}): '{url}'",
            json="json://",
            mailto="mailto://",
            wecom="wecombot://",
            dingtalk="dingtalk://",
            url=url.split(":", 1)[0] + "://…" if "://" in url else url[:40],
            field="notify",
        ) from None


def check_username(username: str | None) -> str:
    username = (username or "").strip()
    if not username:
        raise InvalidInput("give a username", field="username")
    if not USERNAME.match(username):
        raise InvalidInput(
            "a username is 1-80 letters, digits or . _ @ - (no spaces, no Chinese): '{username}'",
            username=username[:40],
            field="username",
        )
    return username


def add_staff(
    *,
    session: Session,
    store_id: int,
    username: str,
    display_name: str,
    roles: list[Role],
    password: str | None = None,
    apprise_url: str | None = None,
    actor: Actor,
) -> tuple[Staff, str | None]:
    """A new account in the store (audited as ``staff.created``). Without ``password`` one is
    generated and returned (shown once); its owner must change it at the first log-in."""
    username = check_username(username)
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidInput("give the person's name", field="name")
    if len(display_name) > 120:
        raise InvalidInput("the name is longer than {max} characters", max=120, field="name")
    if not roles:
        raise InvalidInput("give at least one role", field="roles")
    apprise_url = check_notify_url(apprise_url)
    generated = passwords.generate() if password is None else None
    staff = accounts.create_staff(
        session=session,
        store_id=store_id,
        username=username,
        display_name=display_name,
        password=password if password is not None else generated,
        roles=roles,
        apprise_url=apprise_url,
        must_change_password=generated is not None,
        actor=actor,
    )
    return staff, generated


@dataclass
class RowError:
    row_number: int
    column: str | None  # the file's own header
    reason: Message
    value: str | None = None


@dataclass
class RosterResult:
    rows: int = 0
    # (username, name, generated password) per new account, in file order
    created: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({e.row_number for e in self.errors})


def _score(cells: list[Any]) -> int:
    return sum(1 for c in cells if c is not None and norm_header(c) in _BY_HEADER)


def import_roster(
    *, session: Session, store_id: int, source: Path, filename: str, actor: Actor
) -> RosterResult:
    """Create an account for each good row of a staff list; report every problem of the others.
    A file that is not a table, or lacks a required column, raises InvalidInput (nothing made)."""
    table = read_table(source, filename, _score)
    columns: dict[str, int] = {}
    for i, header in enumerate(table.header):
        f = _BY_HEADER.get(norm_header(header))
        if f and f not in columns:
            columns[f] = i
    if any(f not in columns for f in REQUIRED):
        raise InvalidInput(
            "required column(s) missing: {columns}; the header row was: {header}",
            columns=", ".join(_header_names(f) for f in REQUIRED if f not in columns),
            header=" | ".join(h for h in table.header if h)[:200],
            field="file",
        )
    result = RosterResult()
    taken = set(session.scalars(select(Staff.username)))
    seen: dict[str, int] = {}
    for number, cells in _readable(table, result):
        if all(c is None or not str(c).strip() for c in cells):
            continue
        result.rows += 1
        row = _Row(number, cells, columns, table.header)
        person = row.read(taken, seen)
        if person is None:
            result.errors.extend(row.problems)
            continue
        username, name, roles, url = person
        try:
            with session.begin_nested():
                _staff, password = add_staff(
                    session=session,
                    store_id=store_id,
                    username=username,
                    display_name=name,
                    roles=roles,
                    apprise_url=url,
                    actor=actor,
                )
        except InvalidInput as exc:
            result.errors.append(RowError(number, None, exc.message))
            continue
        taken.add(username)
        result.created.append((username, name, password or ""))
    if result.rows == 0:
        raise InvalidInput("the staff list has no rows under its header", field="file")
    return result


def _readable(table, result: RosterResult):
    """The table's rows up to where the file breaks, if it does: that is told as the next
    row's error (the people of the rows before it are made)."""
    last = table.header_row
    try:
        for number, cells in table.rows:
            last = number
            yield number, cells
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        reason = Message("the file cannot be read past row {row}: {error}", row=last, error=exc)
        result.errors.append(RowError(last + 1, None, reason))


class _Row:
    """One row of the staff list: its values, and every problem found on the way."""

    def __init__(self, number: int, cells: list[Any], columns: dict[str, int], header: list[str]) -> None:
        self.number, self.cells, self.columns, self.header = number, cells, columns, header
        self.problems: list[RowError] = []

    def cell(self, f: str) -> Any:
        i = self.columns.get(f)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def problem(self, f: str, exc: DomainError) -> None:
        self.problems.append(
            RowError(self.number, self.header[self.columns[f]], exc.message, cell_text(self.cell(f)))
        )

    def read(self, taken: set[str], seen: dict[str, int]) -> tuple[str, str, list[Role], str | None] | None:
        """(username, name, roles, notification URL), or None when the row has a problem."""
        name = cell_text(self.cell("name"))
        if not name:
            self.problem("name", InvalidInput("give the person's name"))
        elif len(name) > 120:
            self.problem("name", InvalidInput("the name is longer than {max} characters", max=120))
        username = None
        try:
            username = check_username(cell_text(self.cell("username")))
            if username in taken:
                raise InvalidInput("username '{username}' is taken", username=username)
            if username in seen:
                raise InvalidInput(
                    "username '{username}' is also on row {row}", username=username, row=seen[username]
                )
            seen[username] = self.number
        except InvalidInput as exc:
            self.problem("username", exc)
            username = None
        roles: list[Role] = []
        try:
            roles = parse_roles(cell_text(self.cell("roles")))
        except InvalidInput as exc:
            self.problem("roles", exc)
        if "phone" in self.columns:
            try:
                cell_phone(self.cell("phone"))
            except ValueError:
                self.problem("phone", InvalidInput("not a phone number"))
        url = None
        for f in CHANNEL_FIELDS:
            text = cell_text(self.cell(f)) if f in self.columns else None
            if not text or ("://" not in text and f != "notify"):
                continue  # empty, or a bare address: not a channel Apprise can send to by itself
            try:
                url = check_notify_url(text)
            except InvalidInput as exc:
                self.problem(f, exc)
            break
        if self.problems or not (name and username and roles):
            return None
        return username, name, roles, url


def _header_names(f: str) -> str:
    return "/".join(HEADERS[f][:3])


def first_run(
    *,
    session: Session,
    store_code: str,
    store_name: str,
    username: str,
    display_name: str,
    password: str,
    password_again: str,
) -> tuple[Store, Staff]:
    """The installation's first store and administrator (the first-run page), both audited.
    Refused (Conflict) once any administrator exists: the set-up happens once."""
    if accounts.any_administrator(session=session):
        raise Conflict("winback is set up already; log in")
    if password != password_again:
        raise InvalidInput("the two passwords differ", field="password_again")
    actor = Actor.system(label="first-run set-up")
    store = create_store(session=session, code=store_code, name=store_name, actor=actor)
    staff, _generated = add_staff(
        session=session,
        store_id=store.id,
        username=username,
        display_name=display_name,
        roles=[Role.admin],
        password=password,
        actor=actor,
    )
    return store, staff
