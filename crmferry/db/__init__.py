"""PostgreSQL: embedded server, migrations, pools and tenant transactions."""

from crmferry.db.database import Conn, Database, connect

__all__ = ["Conn", "Database", "connect"]
