"""Command line: ``python -m lab train ...`` (one run in the foreground) and ``python -m lab assets``.

python -m lab train --dataset digits --model small_cnn --epochs 10 --json
python -m lab assets            # pre-fetch datasets and ImageNet weights for offline use

The training options and their defaults come from :class:`lab.training.TrainConfig` itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from lab.errors import InputError


def _train(args: argparse.Namespace) -> int:
    from lab import jobs, worker
    from lab.training import TrainConfig

    config = TrainConfig(**{field.name: getattr(args, field.name) for field in fields(TrainConfig)})
    run_id = worker.create("train", config, status="starting")
    result = worker.execute(run_id)
    run = jobs.get(run_id)
    if result is None:
        print(f"run {run_id} {run.status}: {run.error or ''}", file=sys.stderr)
        return 1
    output = {**result, "run_id": run_id, "run_dir": str(jobs.run_dir(run_id))}
    if args.json:
        print(json.dumps(output))
    else:
        for key, value in output.items():
            print(f"{key:>18}: {value}")
    return 0


def _assets(args: argparse.Namespace) -> int:
    from lab import assets

    return assets.fetch_all(datasets=not args.no_datasets, weights=not args.no_weights)


def _add_config_options(parser: argparse.ArgumentParser, config_class) -> None:
    """One ``--option`` per field of a settings dataclass, typed and defaulted by the dataclass."""
    defaults = config_class()
    for field in fields(config_class):
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=f"default: {default}")


def main(argv: list[str] | None = None) -> int:
    from lab.training import TrainConfig

    parser = argparse.ArgumentParser(prog="python -m lab", description="CNN Lab command line")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train one model in the foreground")
    _add_config_options(train, TrainConfig)
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.set_defaults(handler=_train)
    assets = commands.add_parser("assets", help="download datasets and ImageNet weights into the caches")
    assets.add_argument("--no-datasets", action="store_true")
    assets.add_argument("--no-weights", action="store_true")
    assets.set_defaults(handler=_assets)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
