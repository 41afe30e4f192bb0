"""The JSON error body in the language of the person asking.

``detail`` is in the caller's language: their stored preference (``Staff.locale``, put on
``request.state`` when they are authenticated), else ``?lang=``/the session's choice, else the
Accept-Language header, else English (API clients are programs unless they say otherwise;
the pages default to Chinese). A message without its own translation gets the generic
Chinese text of its code with the English message after it, so nothing is lost. ``code``
stays the stable, untranslated key; ``detail_en`` carries the English when ``detail`` is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from edge.locale import api_locale

# Generic Chinese text per error code, for messages that carry ids or names.
CODE_ZH = {
    "not_found": "找不到该记录",
    "forbidden": "无权执行此操作",
    "conflict": "数据已被他人修改，请刷新后重试",
    "invalid": "输入无效",
    "not_logged_in": "请先登录",
    "too_many_attempts": "登录失败次数过多，请稍后再试",
    "db_unavailable": "数据库暂时无法连接，请稍后重试",
}
STATUS_CODE = {401: "not_logged_in", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "invalid"}


def translate_detail(message: str, code: str | None, locale: str, catalog: Mapping[str, str]) -> str:
    if locale != "zh" or not isinstance(message, str):
        return message
    if message in catalog:
        return catalog[message]
    generic = CODE_ZH.get(code or "")
    return f"{generic}（{message}）" if generic else message


def error_body(
    request: Request,
    message: str,
    *,
    catalog: Mapping[str, str],
    code: str | None = None,
    status: int = 400,
    **extra: Any,
) -> dict[str, Any]:
    """``catalog``: the Chinese texts by English message (the app hands over the pages' catalog,
    so that the API does not import the pages)."""
    code = code or STATUS_CODE.get(status)
    detail = translate_detail(message, code, api_locale(request), catalog)
    body: dict[str, Any] = {"detail": detail}
    if code:
        body["code"] = code
    if detail != message:
        body["detail_en"] = message
    body.update(extra)
    return body
