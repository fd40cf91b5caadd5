"""Command line: ``python -m lab train ...`` (one run in the foreground) and ``python -m lab assets``.

python -m lab train --dataset digits --model small_cnn --epochs 10 --json
python -m lab assets            # pre-fetch datasets and ImageNet weights for offline use
"""

from __future__ import annotations

import argparse
import json
import sys

from lab.errors import InputError


def _train(args: argparse.Namespace) -> int:
    from lab import jobs
    from lab.training import TrainConfig

    config = TrainConfig(args.dataset, args.model, args.epochs, args.batch_size, args.optimizer, args.learning_rate,
                         args.augmentation, args.seed)  # fmt: skip
    run_id = jobs.create("train", config.validated().to_dict(), status="starting")
    result = jobs.execute(run_id)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="CNN Lab command line")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train one model in the foreground")
    train.add_argument("--dataset", default="digits")
    train.add_argument("--model", default="small_cnn")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--optimizer", default="adam")
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--augmentation", action="store_true")
    train.add_argument("--seed", type=int, default=42)
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
