"""Is Microsoft's ODBC Driver 18 for SQL Server installed? A SQL Server project's mssql-django
connects through it (pyodbc); without it every request that touches the database fails, so the
deploy checks first and says how to install it (iishost/docs/intranet.md, "Databases").

Windows lists the installed ODBC drivers as the values of HKLM\\SOFTWARE\\ODBC\\ODBCINST.INI\\ODBC
Drivers, name = driver, data = "Installed" (https://learn.microsoft.com/sql/odbc/reference/install/odbc-drivers-subkey):
what pyodbc.drivers() and the ODBC Data Source Administrator show.
"""

from __future__ import annotations

from collections.abc import Iterable

DRIVER = "ODBC Driver 18 for SQL Server"  # settings.py's OPTIONS["driver"], mssql-django's default
DOWNLOAD = "https://learn.microsoft.com/sql/connect/odbc/download-odbc-driver-for-sql-server"
DRIVERS_KEY = r"SOFTWARE\ODBC\ODBCINST.INI\ODBC Drivers"


def installed_drivers() -> list[str] | None:
    """The ODBC drivers installed on this machine (64-bit registry view, as a 64-bit Python sees
    it); None where there is no Windows registry to ask."""
    try:
        import winreg
    except ImportError:
        return None
    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, DRIVERS_KEY)
    except OSError:
        return []  # no key: no driver was ever installed
    names = []
    with key:
        index = 0
        while True:
            try:
                name, data, _ = winreg.EnumValue(key, index)
            except OSError:  # no more values
                return names
            if data == "Installed":
                names.append(name)
            index += 1


def missing_driver(database: str, installed: Iterable[str] | None) -> tuple[str, str] | None:
    """(what, fix) when the project uses SQL Server and the driver is not among `installed`; None
    when it is there, the project uses another database, or the list is unknown (not Windows)."""
    if database != "mssql" or installed is None:
        return None
    installed = sorted(installed)
    if DRIVER in installed:
        return None
    others = [name for name in installed if "SQL Server" in name]
    found = f" (SQL Server drivers found: {', '.join(others)})" if others else ""
    return (
        f"the database is SQL Server but Microsoft's {DRIVER!r} is not installed{found}: mssql-django "
        "connects through it, and every page that touches the database would fail (pyodbc: IM002, "
        "data source name not found and no default driver specified)",
        f"winget install Microsoft.msodbcsql.18 (PowerShell, as admin), or the x64 installer from {DOWNLOAD};"
        " then deploy again",
    )
