"""Regenerate the docs that are derived from code: ``docs/support-matrix.md`` (every backend's
``supports`` answer per op) and ``docs/cli.md`` (every verb's ``--help``).

    python -m arrayrt.tools.gendocs            # write them
    python -m arrayrt.tools.gendocs --check    # exit 1 if either is stale (the tests run this)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arrayrt.tools import cli, support_matrix

DOCS = Path(__file__).resolve().parent.parent / "docs"


def render_cli() -> str:
    parser = cli.build_parser()
    parts = ["# Command line", "", "Generated from the parsers by `python -m arrayrt.tools.gendocs`; do not edit.",
             "", "```", _help(parser).rstrip(), "```"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb, p in sub.choices.items():
        parts += ["", f"## `arrayrt {verb}`", "", "```", _help(p).rstrip(), "```"]
    return "\n".join(parts) + "\n"


def _help(p: argparse.ArgumentParser) -> str:
    import os

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return p.format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def outputs() -> dict[Path, str]:
    return {DOCS / "support-matrix.md": support_matrix.render(), DOCS / "cli.md": render_cli()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if a generated doc is out of date")
    args = ap.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python -m arrayrt.tools.gendocs): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
