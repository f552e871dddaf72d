"""The report's first screen: what each run trained in plain words, a table that grows down
(one column per run), a caveat for adaptive servers, and no one-point centralized curves."""

from __future__ import annotations

import re
from pathlib import Path

from report_runs import central_records, federated_records, write_run

from fedasr.config import load_config
from fedasr.demo import demo_configs
from fedasr.report.build import write_report
from fedasr.report.intro import describe

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _config(path: Path, *overrides: str) -> dict:
    return load_config(path, list(overrides)).model_dump(mode="json")


def test_descriptions_name_method_clients_budget_and_data() -> None:
    fedavg = describe(_config(CONFIGS / "fedavg.yaml"), centralized=False)
    assert "fedavg, server sgd at lr 1.0" in fedavg and "8 clients a round" in fedavg
    assert "120 rounds" in fedavg and "corpus corpora/default" in fedavg
    dga = describe(_config(demo_configs()["dga_corrupted"]), centralized=False)
    assert "DGA (beta 5" in dga and "25% of the clients have corrupted data" in dga
    tiers = describe(_config(demo_configs()["early_exit"]), centralized=False)
    assert "device tiers low, mid, high" in tiers
    central = describe(_config(CONFIGS / "centralized.yaml"), centralized=True)
    assert central.startswith("centralized: one model on all training utterances pooled, 12 epochs")
    assert "nothing is known" in describe({}, centralized=False)


def _write_config(run: Path, source: Path, *overrides: str) -> Path:
    (run / "config.yaml").write_text(load_config(source, list(overrides)).to_yaml())
    return run


def test_first_screen_table_and_adaptive_server_note(tmp_path: Path) -> None:
    base = _write_config(write_run(tmp_path / "base", federated_records("base")),
                         CONFIGS / "fedavg.yaml")  # fmt: skip
    adam = _write_config(write_run(tmp_path / "adam", federated_records("fast")),
                         CONFIGS / "fedadam.yaml")  # fmt: skip
    html = write_report([base, adam], tmp_path / "out", intro=["A story & more."]).html
    page = html.read_text()
    assert (
        page.index("A story &amp; more.")
        < page.index("What was trained")
        < page.index("<h2>Summary")
    )
    assert "Why server Adam loses here" in page and "fedadam: server Adam" in page
    header = re.search(r"<tr>(<th>.*?)</tr>", page)
    assert header and header.group(1) == "<th>measure</th><th>fedavg</th><th>fedadam</th>"
    assert "<td>best held-out WER</td>" in page  # measures are rows


def test_a_centralized_run_evaluated_once_gets_no_epoch_plot(tmp_path: Path) -> None:
    fed = write_run(tmp_path / "fed", federated_records("base"))
    once = write_run(tmp_path / "once", [central_records()[-1]])
    plots = {p.name for p in write_report([fed, once], tmp_path / "a").plots}
    assert "wer_vs_epoch" not in plots and "wer_vs_round" in plots
    curve = write_run(tmp_path / "curve", central_records())
    plots = {p.name for p in write_report([fed, once, curve], tmp_path / "b").plots}
    assert "wer_vs_epoch" in plots
