"""Headless-browser check of MLflow's UI: hieros_lab's links open the training-runs view.

``python -m hieros_lab.bench.mlflow_ui --out docs/img/mlflow_ui`` starts an ``mlflow server``,
trains a tiny debug run against it through the CLI, takes the link the CLI printed, and loads it
and the experiment's runs-table link in headless Chromium (``apt-get install chromium``). It
checks the rendered pages: the run page shows the run's metrics, the experiment page the runs
table with the run in it. As a control it also loads the experiment's bare URL, which MLflow
3.17 opens on its GenAI overview (Traces), the page the links avoid. Writes the screenshots
and ``ui_check.json``; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hieros_lab.bench.servers import mlflow_server

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
RENDER_BUDGET_MS = 20_000  # virtual time for the single-page app to fetch and draw


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise SystemExit("mlflow_ui: no headless browser found; install one: apt-get install "
                     "chromium")


def render(url: str, screenshot: Path | None = None) -> str:
    """The page's DOM after it rendered (and a 1400x900 screenshot if asked)."""
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1400,900", f"--virtual-time-budget={RENDER_BUDGET_MS}"]
    if screenshot is not None:
        subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True,
                       timeout=180, check=True)
    return subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                          timeout=180, check=True).stdout


def train_one(url: str, work: Path) -> tuple[str, str]:
    """A tiny real run logged to the server; (its run name, the link the CLI printed)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "hieros_lab", "train", "--no_progress",
                           "--gin_file", "debug.gin", "--run_dir", str(work / "run"),
                           "--gin_binding", "Trainer.steps = 60",
                           "--gin_binding", "Trainer.log_every = 20",
                           "--gin_binding", "Trainer.checkpoint_every = 20",
                           "--gin_binding", "Trainer.eval_episodes = 1"],
                          env=env, capture_output=True, text=True, check=False, cwd=work)
    if proc.returncode != 0:
        raise SystemExit(f"mlflow_ui: the training run failed:\n{proc.stderr[-2000:]}")
    link = re.search(r"MLflow: (http\S+)", proc.stderr)
    if link is None:
        raise SystemExit(f"mlflow_ui: the CLI printed no MLflow link:\n{proc.stderr[-2000:]}")
    from mlflow.tracking import MlflowClient

    run_id = re.search(r"/runs/(\w+)", link.group(1)).group(1)
    return MlflowClient(tracking_uri=url).get_run(run_id).info.run_name, link.group(1)


def check(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, mlflow_server(Path(tmp) / "server") as url:
        name, run_link = train_one(url, Path(tmp))
        runs_link = run_link.split("/runs/")[0] + "/runs?" + run_link.split("?", 1)[1]
        bare = run_link.split("/runs/")[0]
        run_page = render(run_link, out / "run_page.png")
        runs_page = render(runs_link, out / "runs_table.png")
        bare_page = render(bare, out / "bare_url_genai_view.png")
    checks = {
        "run page shows the run's metrics": "Model metrics" in run_page
        and "eval/score" in run_page,
        "experiment link shows the runs table with the run":
            re.search(r"\d+(</strong>)? matching runs?", runs_page) is not None
            and name in runs_page,
        "control: the bare URL opens the GenAI view": "Traces" in bare_page
        and name not in bare_page,
    }
    return {"run_name": name, "run_link": run_link, "runs_link": runs_link,
            "checks": checks, "ok": all(checks.values()),
            "screenshots": sorted(p.name for p in out.glob("*.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/mlflow_ui_check"))
    args = parser.parse_args()
    result = check(args.out)
    (args.out / "ui_check.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
