"""What every subcommand of the command line shares: exit codes, argument types, the parser and help formatting,
and the way to reach a config's registry and Dask cluster.

Handlers import what they need when they run, so that ``--help`` and the registry commands start at once.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from kraken_global.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
KG = ".venv/bin/kraken-global"  # the prefix of every example in --help (the README's commands use it too)


def parse_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def split_pairs(values: list[str]) -> list[str]:
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def port(text: str, any_free: bool = False) -> int:
    """A port to listen on, outside the privileged range (:mod:`kraken_global.ports`, the rule configs follow)."""
    from kraken_global.ports import port_problem

    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    problem = port_problem(number, any_free)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return number


def listen_port(text: str) -> int:
    """A port to listen on; 0 lets the system choose a free one."""
    return port(text, any_free=True)


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1e9:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not a speed: use a number from 0 (a paused clock) up, e.g. "
                                         "60 or 3600")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a duration: use a number of seconds above 0, e.g. 120")
    return value


class Parser(argparse.ArgumentParser):
    """Argument mistakes as one line (exit 2) naming the command's --help, not a usage block."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; an option's default after its help unless the help names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def command(commands, name: str, summary: str, example: str, parents=(), description: str = ""):
    """A subcommand whose ``--help`` has a description, each option's default and an example."""
    return commands.add_parser(name, parents=list(parents), help=summary, formatter_class=HelpFormatter,
                               description=f"{summary[0].upper()}{summary[1:]}." + (f"\n\n{description}"
                                                                                    if description else ""),
                               epilog=f"example:\n  {example}")


def registry_options() -> argparse.ArgumentParser:
    """``--config``, ``--artifacts``, ``--namespace``: which registry a command works on."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    options.add_argument("--artifacts", type=Path, help="registry base folder (default: ml.artifacts)")
    options.add_argument("--namespace", help="system namespace inside it (default: ml.namespace)")
    return options


def cluster_options() -> argparse.ArgumentParser:
    """``--scheduler``, ``--workers``: where the Dask work of train, gates and sweep runs."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--scheduler", help="serial, local (a Dask LocalCluster) or tcp://host:8786 (an "
                                             "existing Dask scheduler) (default: run.scheduler, local)")
    options.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    return options


def registry_config(args: argparse.Namespace):
    """The config with the command line's registry and cluster options applied."""
    from kraken_global.config import load_config

    config = load_config(args.config)
    overrides = {"ml.artifacts": str(args.artifacts) if args.artifacts else None, "ml.namespace": args.namespace,
                 "run.scheduler": getattr(args, "scheduler", None), "run.workers": getattr(args, "workers", None)}
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    check_folder(config.ml.artifacts, "--artifacts" if args.artifacts else "ml.artifacts")
    return config


def cluster(config):
    """The Dask client of ``run.scheduler`` (None for serial); progress and cluster logs stay off stdout."""
    from kraken_global.distributed import dask_client

    return dask_client(config.run.scheduler, config.run.workers)


def open_registry(args: argparse.Namespace):
    from kraken_global.registry import ModelRegistry  # not gating: quick commands must not import sklearn

    config = registry_config(args)
    return ModelRegistry(config.ml.artifacts, config.ml.namespace)


def config_hint(args: argparse.Namespace) -> str:
    """The options a ``next:`` hint must repeat to reach the same registry."""
    parts = [f" --config {args.config}" if args.config else "",
             f" --artifacts {args.artifacts}" if getattr(args, "artifacts", None) else "",
             f" --namespace {args.namespace}" if getattr(args, "namespace", None) else ""]
    return "".join(parts)


def print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def check_folder(path: Path, option: str) -> None:
    """Refuse, before any work is done, a folder to write in that cannot be one: an existing file, a path under a
    file, or a place where no folder can be made (``/proc/x``, a read-only disk). Nothing is left behind."""
    import os
    import tempfile

    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{option} {path} is an existing file: name a folder")
        return
    parent = next(p for p in path.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ConfigError(f"{option} {path} is inside {parent}, which is a file: name a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kg-probe-", dir=parent))
    except OSError as exc:
        raise ConfigError(f"{option} {path} cannot be made: no folder can be created in {parent} "
                          f"({exc.strerror or exc})") from None


def os_error_line(exc: OSError) -> str:
    """One line for a file-system refusal that reached the command line: which path, and what the system said."""
    where = " and ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
    hint = {NotADirectoryError: ": a part of the path is a file, not a folder",
            IsADirectoryError: ": it is a folder, not a file",
            PermissionError: ": check its owner and mode"}.get(type(exc), "")
    if not where:  # not a path (a socket, a pipe): what the system said is all there is
        return f"the system refused: {exc.strerror or exc}"
    return f"cannot use {where}: {exc.strerror or exc}{hint}"
