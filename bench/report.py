"""The results: a printed table with ratios from the same run, a JSON file and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.measure import Cell

FLOOR = "floor"
PG5 = "postgraphile5"


def _by(cells: list[Cell], dataset: str, query: str, server: str) -> Cell | None:
    return next(
        (c for c in cells if (c.dataset, c.query, c.server) == (dataset, query, server)), None
    )


def _ratio(cell: Cell, other: Cell | None) -> str:
    if other is None or not (cell.ok and other.ok) or not other.rps:
        return "-"
    ratio = cell.rps / other.rps
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.1g}"


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = (
    f"{'dataset/query':<20} {'server':<27} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'/floor':>6} {'/pg5':>6} {'sql':>5} {'reads':>5} {'cpu ms':>7} {'db ms':>6} {'rss MB':>6} "
    f"{'bytes':>7} {'executor':>9} {'noise%':>6}"
)


def _line(cell: Cell, cells: list[Cell]) -> str:
    name = f"{cell.dataset}/{cell.query}"
    if not cell.ok:
        return f"{name:<20} {cell.server:<27} {cell.status}"
    floor = _by(cells, cell.dataset, cell.query, FLOOR)
    pg5 = _by(cells, cell.dataset, cell.query, PG5)
    return (
        f"{name:<20} {cell.server:<27} {cell.rps:>8.1f} {cell.p50_ms:>8.2f} {cell.p99_ms:>8.2f} "
        f"{_ratio(cell, floor):>6} {_ratio(cell, pg5):>6} "
        f"{_number(cell.sql_per_request):>5} {_number(cell.reads_per_request):>5} "
        f"{_number(cell.cpu_ms_per_request, 2):>7} {_number(cell.db_cpu_ms_per_request, 2):>6} "
        f"{_number(cell.peak_rss_mb, 0):>6} {cell.response_bytes:>7} {cell.executor_seen:>9} "
        f"{_number(cell.others_cpu_percent, 0):>6}"
    )


def page_ratios(cells: list[Cell]) -> list[str]:
    """Deep page p50 over first page p50, per server: how paging cost grows with depth."""
    lines = []
    for cell in cells:
        if cell.query != "page-500k" or not cell.ok:
            continue
        first = _by(cells, cell.dataset, "page-1", cell.server)
        if first is not None and first.ok and first.p50_ms:
            lines.append(
                f"  {cell.server:<27} page-500k p50 {cell.p50_ms:9.2f} ms / page-1 p50 "
                f"{first.p50_ms:7.2f} ms = {cell.p50_ms / first.p50_ms:8.1f}x"
            )
    return lines


def table(cells: list[Cell]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    previous = None
    for cell in cells_in_order(cells):
        if previous is not None and (previous.dataset, previous.query) != (
            cell.dataset,
            cell.query,
        ):
            lines.append("")
        lines.append(_line(cell, cells))
        previous = cell
    lines += ["", "deep page / first page (latency p50):", *page_ratios(cells)]
    noise = [c.others_cpu_percent for c in cells if c.ok and c.others_cpu_percent is not None]
    if noise:
        lines.append(
            f"noise: other work on the machine used {sum(noise) / len(noise):.0f}% of a core on "
            f"average during the timed runs (max {max(noise):.0f}%; 2 cores = 200%)"
        )
    return "\n".join(lines)


def cells_in_order(cells: list[Cell]) -> list[Cell]:
    queries = list(dict.fromkeys((c.dataset, c.query) for c in cells))
    servers = list(dict.fromkeys(c.server for c in cells))
    return sorted(
        cells, key=lambda c: (queries.index((c.dataset, c.query)), servers.index(c.server))
    )


def write_json(path: Path, cells: list[Cell], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "results": [c.as_dict() for c in cells]}, indent=2))


def plot(path: Path, cells: list[Cell], title: str) -> None:
    """Throughput per query, one panel each, log scale (servers differ by orders of magnitude)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queries = list(dict.fromkeys((c.dataset, c.query) for c in cells))
    servers = list(dict.fromkeys(c.server for c in cells))
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(servers)}
    columns = 3
    rows = (len(queries) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 4.2 * rows), squeeze=False)
    for index, (dataset, query) in enumerate(queries):
        axis = axes[index // columns][index % columns]
        shown = [_by(cells, dataset, query, s) for s in servers]
        values = [c.rps if c is not None and c.ok else 0.0 for c in shown]
        heights = [max(v, 0.1) for v in values]
        axis.bar(range(len(servers)), heights, color=[colours[s] for s in servers])
        for x, (value, cell) in enumerate(zip(values, shown, strict=True)):
            label = f"{value:.3g}" if value else ("failed" if cell is not None else "n/a")
            axis.text(x, max(value, 0.1), label, ha="center", va="bottom", fontsize=7)
        axis.set_title(f"{dataset} store: {query}")
        axis.set_ylabel("requests/s (log scale)")
        axis.set_yscale("log")
        axis.set_ylim(bottom=0.1)
        axis.set_xticks(range(len(servers)), servers, rotation=35, ha="right", fontsize=7)
    for index in range(len(queries), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
