"""Help and README that hold: every command of the parser tree explains itself, and every ``kraken-global`` command
line the README or a ``--help`` example shows is accepted by the real parser, with paths that exist.

How a command line is found and judged:

- In README.md, every line of a fenced code block (continuation lines joined) is split like a shell would
  (``shlex``, with ``| ; && ( ) < >`` as separators and ``#`` comments); a command starts at the beginning of the
  line or after a separator, past ``NAME=value`` assignments. One whose program ends in ``kraken-global`` is a
  command line, unless it is a synopsis: a token with ``[`` or ``...`` (``[--config FILE]``, ``FILE ...``) marks
  the usage summaries, which are not meant to be run.
- Every ``--help`` has an ``example:`` section; each of its lines is a command line.
- Each is parsed by ``kraken_global.cli.build_parser()``: an unknown option, a missing argument or a bad value fails.
- A path the command reads (``--config``, ``--credentials``, ``--data-dir`` of a reading command, a session folder,
  an imported file) must exist in the repository, or be made by an earlier README step: ``--out`` and
  ``--data-dir`` of ``data download`` or ``data import`` make their folder, the emulator its credentials file, and a
  paper or live session ``results/<mode>-<UTC wall time>`` (any such stamp matches). Help examples stand alone:
  for them only the repository, the steps of the same example and the session-folder pattern count.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from kraken_global.cli import build_parser
from kraken_global.cli.common import KG

ROOT = Path(__file__).resolve().parents[1]
SEPARATORS = {"|", "||", ";", "&&", "&", "(", ")", "$(", "<", ">", ">>", "$"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SESSION_FOLDER = re.compile(r"^results/(paper|live)-\d{8}T\d{6}Z(-\d+)?/?$")
READ_PATHS = {"config", "credentials", "session_dir", "session", "files", "asset_pairs", "state"}
FILLING = ("download", "import")  # data actions that fill --data-dir rather than read it


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every parser of the tree, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, (*path, name))


def test_every_command_and_subcommand_has_a_description_defaults_and_an_example():
    for path, parser in parsers(build_parser()):
        name = " ".join(path) or "kraken-global"
        assert parser.description, f"{name}: no description"
        text = parser.format_help()
        assert "example:" in text and KG in text.split("example:")[1], f"{name}: no example"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            kind = type(action).__name__.lower()
            flag = any(word in kind for word in ("storetrue", "storefalse", "help", "version", "count"))
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.option_strings and not flag and not action.required:
                shown = parser.formatter_class(prog="x")._expand_help(action) if action.help else ""
                assert "default" in shown, f"{name} {action.option_strings[0]}: its help gives no default"


def readme_commands() -> list[tuple[int, list[str]]]:
    """(line number, argv after the program) of every README command line, in order (see the module docstring)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    out, inside, number = [], False, 0
    pending = ""
    for index, line in enumerate(lines, start=1):
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        if not pending:
            number = index
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out += [(number, argv) for argv in command_lines(pending + line)]
        pending = ""
    return out


def command_lines(text: str) -> list[list[str]]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: prose, not a command
        return []
    found, start = [], True
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in SEPARATORS or token.endswith("$"):
            start = True
        elif start and ASSIGNMENT.match(token):
            pass
        elif start and token.endswith("kraken-global"):
            argv = []
            index += 1
            while index < len(tokens) and tokens[index] not in SEPARATORS:
                argv.append(tokens[index])
                index += 1
            if not any("[" in word or "..." in word for word in argv):
                found.append(argv)
            start = True
            continue
        else:
            start = False
        index += 1
    return found


def help_examples() -> list[tuple[str, list[list[str]]]]:
    """(command, the argv of each example line) of every parser that has examples."""
    found = []
    for path, parser in parsers(build_parser()):
        examples = parser.format_help().partition("example:")[2]
        lines = [shlex.split(line.strip())[1:] for line in examples.splitlines() if line.strip().startswith(KG)]
        if lines:
            found.append((" ".join(path) or "kraken-global", lines))
    return found


def parse(argv: list[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"the parser refuses: kraken-global {' '.join(argv)}") from exc


def read_paths(args: argparse.Namespace) -> list[str]:
    """The paths ``args`` makes the command read."""
    paths = []
    for key in READ_PATHS - ({"credentials"} if args.command == "emulator" else set()):  # the emulator makes it
        value = getattr(args, key, None)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                paths.append(str(item))
    if getattr(args, "data_dir", None) is not None and getattr(args, "data_command", None) not in FILLING:
        paths.append(str(args.data_dir))
    return paths


def made_paths(args: argparse.Namespace) -> list[str]:
    """What the command makes for later steps."""
    made = [str(args.out)] if getattr(args, "out", None) is not None else []
    if getattr(args, "data_command", None) in FILLING:
        made.append(str(args.data_dir))
    if args.command == "emulator":
        made.append(str(args.credentials))
    return made


def exists(path: str, made: set[str]) -> bool:
    return (ROOT / path).exists() or path.rstrip("/") in made or bool(SESSION_FOLDER.match(path))


def test_every_readme_command_line_parses_and_reads_only_paths_that_exist_or_an_earlier_step_made():
    commands = readme_commands()
    assert len(commands) >= 40, "the README's command lines were not found"
    made: set[str] = set()
    for number, argv in commands:
        args = parse(argv)
        for path in read_paths(args):
            if args.command == "live" and path == "emulator-credentials.json":
                assert path in made, f"README.md:{number}: the emulator's credentials are read before it runs"
            assert exists(path, made), f"README.md:{number}: kraken-global {' '.join(argv)} reads {path}, which " \
                                       "neither exists nor is made by an earlier step"
        made.update(p.rstrip("/") for p in made_paths(args))


@pytest.mark.parametrize(("command", "examples"), help_examples(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_every_help_example_parses_and_reads_only_paths_that_exist(command, examples):
    made: set[str] = {"emulator-credentials.json"}  # `live`'s example trades on the emulator, which writes it
    for argv in examples:
        args = parse(argv)
        for path in read_paths(args):
            assert exists(path, made), f"{command} --help: kraken-global {' '.join(argv)} reads {path}"
        made.update(p.rstrip("/") for p in made_paths(args))


def test_the_command_finder_reads_shell_lines_as_a_shell_would():
    assert command_lines("FIRST=$(.venv/bin/kraken-global train --config c.yaml | sed -n 's/x//p')") == \
        [["train", "--config", "c.yaml"]]
    assert command_lines(".venv/bin/kraken-global gates $FIRST --config c.yaml > /dev/null") == \
        [["gates", "$FIRST", "--config", "c.yaml"]]
    assert command_lines("tar czf kg-keys.tgz -C ~/.config kraken-global") == []
    assert command_lines("kraken-global backtest [--config FILE]") == []  # a synopsis
    assert command_lines("KRAKEN_GLOBAL_KEY_DIR=k .venv/bin/kraken-global audit verify  # why") == \
        [["audit", "verify"]]
