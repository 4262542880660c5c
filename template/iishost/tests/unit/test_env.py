"""iishost.envfile decodes .env as Windows tools write it; iishost.envvars types each setting.

No Django needed: the template repository runs these too."""

import codecs

import pytest

from iishost.envfile import decode
from iishost.envvars import SettingError, env_bool, env_choice, env_folder, env_hostnames, env_int, env_list

TEXT = "DJANGO_SECRET_KEY=abc\r\n# Café ☕\r\nDJANGO_DEBUG=0\r\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-32-le-bom"],
)
def test_decodes_what_windows_tools_write(data):
    assert decode(data, ".env") == TEXT, "the BOM is not part of the first variable's name"


def test_ansi_file_names_the_line_and_the_fix():
    with pytest.raises(SettingError) as error:
        decode("A=1\nB=2\n# Caf\xe9\n".encode("cp1252"), "C:/site/.env")
    message = str(error.value)
    assert message.startswith("C:/site/.env: line 3 is not UTF-8 (bytes e9)")
    assert "Set-Content -Encoding utf8" in message


def test_utf16_without_bom_is_named():
    with pytest.raises(SettingError, match="line 1 holds NUL bytes: the file looks like UTF-16"):
        decode("A=1\n".encode("utf-16-le"), ".env")


@pytest.mark.parametrize(
    ("function", "args", "value", "message"),
    [
        (env_bool, (False,), "maybe", "X='maybe' is not a boolean: use 1 or 0."),
        (env_int, (0,), "1 year", "X='1 year' is not a whole number, 0 or more: e.g. X=0."),
        (env_int, (4,), "0", "X='0' is not a whole number, 1 or more"),
        (env_choice, ("INFO", ("INFO", "DEBUG")), "loud", "X='loud' is not one of INFO, DEBUG."),
        (env_hostnames, (["a.example"],), "a.example, *", '"*" would accept any Host header'),
    ],
)
def test_malformed_value_names_variable_value_and_expectation(monkeypatch, function, args, value, message):
    monkeypatch.setenv("X", value)
    kwargs = {"minimum": 1} if message.endswith("1 or more") else {}
    with pytest.raises(SettingError) as error:
        function("X", *args, **kwargs)
    assert message in str(error.value)


def test_well_formed_and_empty_values(monkeypatch):
    monkeypatch.setenv("X", " On ")
    assert env_bool("X", False) is True
    monkeypatch.setenv("X", "31_536_000")
    assert env_int("X", 0) == 31_536_000
    monkeypatch.setenv("X", "warning")
    assert env_choice("X", "INFO", ("WARNING", "INFO")) == "WARNING"
    monkeypatch.setenv("X", "a.example,*.b.example c.example")
    assert env_hostnames("X", []) == ["a.example", "*.b.example", "c.example"]
    monkeypatch.setenv("X", "  ")
    assert (env_bool("X", True), env_int("X", 7), env_list("X", ("d",))) == (True, 7, ["d"])


def test_folder_must_exist(monkeypatch, tmp_path):
    monkeypatch.delenv("X", raising=False)
    assert env_folder("X", tmp_path) == tmp_path
    monkeypatch.setenv("X", str(tmp_path / "gone"))
    with pytest.raises(SettingError, match="is not a folder: create it"):
        env_folder("X", tmp_path)
