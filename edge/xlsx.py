"""A workbook download: the one place its media type and headers are written."""

from __future__ import annotations

from fastapi.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(body: bytes, filename: str) -> Response:
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


# For a route's OpenAPI entry: the 200 answer is a workbook, not JSON.
XLSX_RESPONSES = {200: {"content": {XLSX: {}}, "description": "an XLSX workbook"}}
