"""Command line: ``hieros-lab train | components | bench | sweep | report | archive`` (also
``python -m hieros_lab``)."""

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
    p.add_argument("--parent_run_id", default=None, metavar="ID",
                   help="nest the MLflow run under this parent run (set by `hieros-lab sweep`)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                   help="extra MLflow tag (repeatable), e.g. --tag arm=uniform")


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
    _sweep_parser(sub)
    _report_parser(sub)
    _archive_parser(sub)
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
    from hieros_lab.trainer.session import (
        RunFinished,
        RunSpec,
        default_run_dir,
        run_command,
        run_training,
    )

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
        spec.tags.update(_parse_tags(args.tag))
        spec.parent_run_id = args.parent_run_id or spec.parent_run_id
        result = run_training(spec, run_dir, resume, progress=not args.no_progress)
    except RunFinished as done:  # a resume with nothing left to train is a success
        print(f"hieros-lab: {done}")
        return 0
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


def _parse_tags(items: Sequence[str]) -> dict[str, str]:
    from hieros_lab.config import ConfigError

    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--tag {item!r}: expected KEY=VALUE")
        tags[key.strip()] = value
    return tags


def _sweep_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run an experiment file: arms x games x seeds",
                       description="Run every arm x game x seed of an experiment file as "
                       "`hieros-lab train` children under one MLflow parent run. Re-running "
                       "skips finished children and resumes interrupted ones. Example: "
                       "hieros-lab sweep experiments/ablation_replay.toml --scale cpu")
    p.add_argument("file", type=Path, help="experiment TOML (see experiments/)")
    p.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="children run at once on this machine (default 1)")
    p.add_argument("--ray-address", dest="ray_address", default=None, metavar="ADDR",
                   help="run children as tasks on this Ray cluster ('auto': the local one)")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="print the children and their commands; run nothing")
    p.add_argument("--scale", default=None, metavar="NAME",
                   help="apply the file's [scale.NAME] table, e.g. cpu (tiny budget and model)")
    p.add_argument("--runs_dir", type=Path, default=Path("runs"),
                   help="root of the run directories (default runs/)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="run only the children whose key (arm/game/seed<k>) matches, e.g. "
                   "'*/seed0' or 's5_1level/*' (repeatable); the others are left as they are")


def cmd_sweep(args: argparse.Namespace) -> int:
    from hieros_lab.config import ConfigError
    from hieros_lab.sweep.sweep import SweepOptions, run_sweep
    from hieros_lab.tracking.base import TrackerError

    options = SweepOptions(parallel=args.parallel, ray_address=args.ray_address,
                           dry_run=args.dry_run, scale=args.scale, runs_dir=args.runs_dir,
                           only=tuple(args.only))
    try:
        return run_sweep(args.file, options)
    except (ConfigError, TrackerError) as err:
        print(f"hieros-lab: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the parent run opened: nothing to end or resume
        print("hieros-lab: sweep interrupted before it started", file=sys.stderr)
        return EXIT_INTERRUPTED


def _report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="Markdown + PNG comparison report of a sweep's runs",
                       description="Read a sweep's runs from MLflow and write report.md with "
                       "plots (also logged under report/ of the parent run). Example: "
                       "hieros-lab report --experiment ablation_replay")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", default=None, metavar="NAME",
                       help="all runs of this MLflow experiment that carry an 'arm' tag")
    which.add_argument("--run", default=None, metavar="PARENT_ID",
                       help="the child runs of this sweep parent run")
    which.add_argument("--suite", nargs="+", type=Path, default=None, metavar="TOML",
                       help="one page over these experiment files, each task next to a random "
                       "policy (how docs/validation.md is made); --out is then the page")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default reports/<name>); with --suite the Markdown "
                   "page (default reports/suite.md), its figures and CSVs go in the folder "
                   "of the same name")
    p.add_argument("--title", default="Validation suite",
                   help="with --suite: the page's title (default 'Validation suite')")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap replicates (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def cmd_report(args: argparse.Namespace) -> int:
    from hieros_lab.analysis import report, runs

    if args.suite is not None:
        return _suite_report(args)
    try:
        client = runs.open_client()
        source = runs.resolve_source(client, args.experiment, args.run)
        out = args.out or Path("reports") / source.name
        result = report.write_report(client, source, out, reps=args.reps, seed=args.seed)
    except runs.ReportError as err:
        print(f"hieros-lab: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    where = f"; logged to run {result.parent_run_id} under report/" if result.parent_run_id else ""
    print(f"wrote {result.path}{where}")
    return 0


def _suite_report(args: argparse.Namespace) -> int:
    from hieros_lab.analysis import runs, suite
    from hieros_lab.config import ConfigError
    from hieros_lab.sweep import experiment
    from hieros_lab.trainer.session import to_stderr

    page = args.out or Path("reports") / "suite.md"
    command = " ".join(["hieros-lab report --suite", *(f.as_posix() for f in args.suite),
                        "--out", page.as_posix()]
                       + ([f"--title '{args.title}'"] if args.title != "Validation suite" else []))
    try:
        exps = [experiment.load(f) for f in args.suite]  # every file checked before any read
        client = runs.open_client()
        path = suite.write_page(client, exps, page, command, reps=args.reps, seed=args.seed,
                                say=to_stderr, title=args.title)
    except (ConfigError, runs.ReportError) as err:
        print(f"hieros-lab: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}")
    return 0


def _archive_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="export finished runs to a file / import them",
                       description="Carry runs between MLflow stores (a fresh clone has "
                       "none): `export` writes the FINISHED runs of experiments to a .jsonl.gz "
                       "file; `import` loads such files into the current store and restores "
                       "the sweep's run directories, so `hieros-lab report` sees the runs and "
                       "`hieros-lab sweep` skips them. Example: hieros-lab archive import "
                       "docs/runs/*.jsonl.gz")
    verbs = p.add_subparsers(dest="verb", required=True)
    ex = verbs.add_parser("export", help="write experiments' finished runs to a file")
    ex.add_argument("--experiment", action="append", required=True, metavar="NAME",
                    help="MLflow experiment (an experiment file's name; repeatable)")
    ex.add_argument("--out", type=Path, required=True, metavar="FILE",
                    help="archive to write, e.g. docs/runs/validation_pinpad.jsonl.gz")
    im = verbs.add_parser("import", help="load archives into the current MLflow store")
    im.add_argument("files", nargs="+", type=Path, metavar="FILE")
    for q in (ex, im):
        q.add_argument("--runs_dir", type=Path, default=Path("runs"),
                       help="root of the sweep's run directories (default runs/)")


def cmd_archive(args: argparse.Namespace) -> int:
    from hieros_lab.analysis import runs
    from hieros_lab.tracking import archive, archive_rundirs
    from hieros_lab.tracking.base import TrackerError
    from hieros_lab.trainer.session import to_stderr

    try:
        if args.verb == "export":
            client = runs.open_client()
            count = archive.export_experiments(client, args.experiment, args.out,
                                               archive_rundirs.reader(args.runs_dir),
                                               say=to_stderr)
            print(f"wrote {count} runs to {args.out}")
            return 0
        records = [rec for f in args.files for rec in archive.read_lines(f)[1]]
        uri = runs.tracking_uri()
        result = archive.import_records(records, uri, say=to_stderr)
        dirs = archive_rundirs.restore(records, result.ids, args.runs_dir, uri, say=to_stderr)
    except (archive.ArchiveError, runs.ReportError, TrackerError) as err:
        print(f"hieros-lab: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"imported {len(result.imported)} runs ({len(result.present)} already in the store); "
          f"restored {len(dirs)} run directories under {args.runs_dir}")
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
    try:
        return _dispatch(args, argv)
    except KeyboardInterrupt:  # while importing, before a command opened anything
        print("hieros-lab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "components":
        return cmd_components()
    if args.command == "train":
        return cmd_train(args, argv)
    if args.command == "sweep":
        return cmd_sweep(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "archive":
        return cmd_archive(args)
    return cmd_bench(args)
