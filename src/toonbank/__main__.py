"""``python -m toonbank`` is the ``toonbank`` command."""

from toonbank.cli import app

app()
