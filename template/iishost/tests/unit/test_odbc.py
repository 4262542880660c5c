"""The deploy's check for Microsoft's ODBC Driver 18 on a SQL Server project (iishost/deploy/odbc.py),
decided from the installed drivers' names as Windows lists them (the values of
HKLM\\SOFTWARE\\ODBC\\ODBCINST.INI\\ODBC Drivers; "SQL Server" is the old driver Windows ships)."""

import os
import subprocess
from pathlib import Path

import pytest

from iishost.deploy.checks import check_all
from iishost.deploy.config import from_config
from iishost.deploy.odbc import DRIVER, installed_drivers, missing_driver

WINDOWS_DEFAULT = ["SQL Server"]  # what a fresh Windows Server lists
WITH_17 = ["SQL Server", "ODBC Driver 17 for SQL Server"]


def settings(tmp_path: Path, database: str):
    (tmp_path / "logs").mkdir(exist_ok=True)
    config = {"project": {"slug": "s", "database": database}, "iis": {"site_name": "s", "app_pool": "s"}}
    return from_config(config, tmp_path)


def test_sql_server_project_without_driver_18_is_told_how_to_install_it():
    what, fix = missing_driver("mssql", WITH_17)
    assert DRIVER in what and "ODBC Driver 17 for SQL Server" in what
    assert "winget install Microsoft.msodbcsql.18" in fix
    assert "https://learn.microsoft.com/sql/connect/odbc/download-odbc-driver-for-sql-server" in fix
    assert missing_driver("mssql", WINDOWS_DEFAULT) and missing_driver("mssql", [])


def test_driver_18_installed_or_another_database_or_no_registry_is_no_problem():
    assert missing_driver("mssql", [*WITH_17, DRIVER]) is None
    assert missing_driver("postgresql", WINDOWS_DEFAULT) is None
    assert missing_driver("sqlite", []) is None
    assert missing_driver("mssql", None) is None  # not Windows: nothing to ask


def test_the_deploy_checks_include_it_for_sql_server_only(tmp_path):
    def modules_ok(argv):  # appcmd: every module installed
        return subprocess.CompletedProcess(argv, 0, "", "")

    mssql = check_all(settings(tmp_path, "mssql"), "appcmd", modules_ok, odbc_drivers=lambda: WITH_17)
    assert [p.fix for p in mssql if "msodbcsql" in p.fix], [str(p) for p in mssql]
    ok = check_all(settings(tmp_path, "mssql"), "appcmd", modules_ok, odbc_drivers=lambda: [DRIVER])
    other = check_all(settings(tmp_path, "sqlite"), "appcmd", modules_ok, odbc_drivers=lambda: [])
    assert not [p for p in ok + other if "ODBC" in p.what]


@pytest.mark.skipif(os.name != "nt", reason="reads the Windows registry")
def test_the_registry_lists_the_drivers_windows_ships():
    assert "SQL Server" in installed_drivers()


@pytest.mark.skipif(os.name == "nt", reason="off Windows there is no registry to read")
def test_off_windows_the_list_is_unknown():
    assert installed_drivers() is None
