"""Database access: the async engine, sessions and the unit of work."""

from toonbank.db.engine import Database, create_database
from toonbank.db.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "create_database"]
