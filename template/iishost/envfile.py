"""Load the project's `.env` into the environment, whatever Windows tool saved it.

python-dotenv parses the file; this module decodes it first. UTF-8, with or without the BOM that
Windows PowerShell 5.1's `Set-Content -Encoding utf8` writes, and UTF-16 or UTF-32 with a BOM (what
its `Out-File` and `>` write) are read. Anything else stops with the file, the line and the fix,
instead of a bare UnicodeDecodeError from every command.
"""

import codecs
import io
from pathlib import Path

from .envvars import SettingError

# UTF-32 LE's BOM starts with UTF-16 LE's: it is looked for first.
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
FIX = (
    "Save it as UTF-8: in Windows PowerShell 5.1, (Get-Content .env) | Set-Content -Encoding utf8 .env "
    "(Get-Content reads a file without a BOM in the system's ANSI code page); in Notepad, "
    "Save As with Encoding UTF-8."
)


def decode(data, path):
    """The text of a .env file's bytes; SettingError naming the file, the line and the fix."""
    codec, label = next(((c, label) for bom, c, label in BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    if codec == "utf-8" and b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise SettingError(
            f"{path}: line {line} holds NUL bytes: the file looks like UTF-16 without a byte-order "
            f"mark. {FIX}"
        )
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(codec, errors="replace").count("\n") + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise SettingError(
            f"{path}: line {line} is not {label} (bytes {bad}); it was probably saved in the ANSI code "
            f"page (e.g. cp1252). {FIX}"
        ) from None


def load_env_file(path):
    """Variables already in the environment win over the file's (python-dotenv's override=False)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    from dotenv import load_dotenv

    return load_dotenv(stream=io.StringIO(decode(data, path)))
