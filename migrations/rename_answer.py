"""Rename a question's key in a project's answers file, before `copier update` reads it.

When a template release renames a question, Copier would otherwise ask the new question again
(or, with --defaults, silently take its default) and drop the old answer. copier.yml runs this
in the `before` stage of a migration for the release that made the rename:

    _migrations:
      - version: "X.Y.Z"
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/migrations/rename_answer.py",
                  "{{ _copier_conf.answers_file }}", "old_name", "new_name"]

Stdlib only (it runs with Copier's Python). The answers file is YAML that Copier writes with one
top-level key per line at column 0, so a top-level key is renamed by rewriting that line; values,
comments and order stay as they are.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?=\s|$)")


def top_level_keys(lines: list[str]) -> list[str]:
    return [m["key"] for m in map(KEY.match, lines) if m]


def rename(text: str, old: str, new: str) -> str:
    """`text` with the top-level key `old` renamed to `new`; unchanged when `old` is absent."""
    lines = text.splitlines(keepends=True)
    keys = top_level_keys(lines)
    if old not in keys:
        return text
    if new in keys:
        raise ValueError(f"both {old!r} and {new!r} are answered; delete the stale {old!r} line and retry")
    return "".join(
        f"{new}{line[len(old) :]}" if KEY.match(line) and line.startswith(f"{old}:") else line
        for line in lines
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: rename_answer.py ANSWERS_FILE OLD_NAME NEW_NAME", file=sys.stderr)
        return 2
    path, old, new = Path(argv[0]), argv[1], argv[2]
    try:
        before = path.read_text(encoding="utf-8")
        after = rename(before, old, new)
    except (OSError, ValueError) as error:
        print(f"rename_answer: {path}: {error}", file=sys.stderr)
        return 1
    if after == before:
        print(f"rename_answer: {path} has no answer {old!r}: nothing to rename.")
        return 0
    path.write_text(after, encoding="utf-8")
    print(f"rename_answer: {path}: answer {old!r} is now {new!r}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
