"""An uploaded file, saved to a temporary file for the readers that want a path."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile


@contextmanager
def saved_upload(file: UploadFile) -> Iterator[Path]:
    """The upload in a temporary file (its suffix kept: the reader goes by it), removed afterwards."""
    with tempfile.NamedTemporaryFile(suffix=Path(file.filename or "").suffix[:10], delete=False) as tmp:
        shutil.copyfileobj(file.file, tmp, 1 << 20)
        path = Path(tmp.name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
