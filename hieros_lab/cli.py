"""Command line: ``hieros-lab train | components | bench`` (also ``python -m hieros_lab``)."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an agent from gin files",
                       description="Train an agent. Example: hieros-lab train --gin_file "
                       "presets/quickstart.gin --gin_binding 'Trainer.seed = 1'")
    p.add_argument("--gin_file", action="append", default=[], metavar="F",
                   help="gin file (repeatable; also looked up under gin/)")
    p.add_argument("--gin_binding", action="append", default=[], metavar="B",
                   help="gin binding 'Selector.param = value' (repeatable, applied last)")
    p.add_argument("--run_dir", type=Path, default=None,
                   help="directory for checkpoints and the run record (default runs/<time>)")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR (same config, same MLflow run); extra "
                   "--gin_binding lines are applied on top, e.g. 'Trainer.steps = 20000'")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                   help="overrides Trainer.device")
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")


def _bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure speed and memory on this machine")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="write the flat JSON result here")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test of the bench)")
    p.add_argument("--no_mlflow", action="store_true", help="do not log the result to MLflow")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hieros-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    sub.add_parser("components", help="list every component kind and registered name")
    _bench_parser(sub)
    return parser


def cmd_components() -> int:
    import hieros_lab.components  # noqa: F401
    from hieros_lab import registry

    for kind, description in registry.kinds().items():
        print(f"{kind}: {description}")
        for name, entry in sorted(registry.entries(kind).items()):
            print(f"  {name:<16} {entry.description}")
    return 0


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hieros_lab import config
    from hieros_lab.tracking.base import TrackerError
    from hieros_lab.trainer.checkpoint import CheckpointError
    from hieros_lab.trainer.session import RunSpec, default_run_dir, run_command, run_training

    bindings = list(args.gin_binding)
    if args.device:
        bindings.append(f"Trainer.device = '{args.device}'")
    try:
        if args.resume is not None:
            run_dir = args.resume
            spec = RunSpec.load(run_dir)
            spec.extra_bindings = bindings
            resume = True
        else:
            if not args.gin_file:
                raise config.ConfigError("no --gin_file given (try presets/quickstart.gin)")
            files = [str(config.resolve_gin_file(f)) for f in args.gin_file]
            run_dir = args.run_dir or default_run_dir()
            if (run_dir / "checkpoints" / "latest").exists():
                raise config.ConfigError(f"{run_dir} already holds a run; use --resume {run_dir}")
            spec = RunSpec(files, bindings, run_command(argv))
            resume = False
        result = run_training(spec, run_dir, resume, progress=not args.no_progress)
    except (config.ConfigError, TrackerError, CheckpointError) as err:
        print(f"hieros-lab: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"hieros-lab: interrupted; resume with: hieros-lab train --resume {run_dir}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug, not a user error: the run is marked FAILED with the traceback
        traceback.print_exc()
        return EXIT_FAILED
    print(f"final eval score {result['score']:.2f} ± {result['score_std']:.2f} over "
          f"{int(result['episodes'])} episodes; run dir {run_dir}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from hieros_lab.bench.run import collect, log_mlflow, table

    result = collect(args.quick)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    if not args.no_mlflow:
        print(f"logged to MLflow run {log_mlflow(result)} (experiment hieros_lab_bench)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "components":
        return cmd_components()
    if args.command == "train":
        return cmd_train(args, argv)
    return cmd_bench(args)
