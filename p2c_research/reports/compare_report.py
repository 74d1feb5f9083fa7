"""Progress between two assessments: ``invoke compare OLD_OUT NEW_OUT`` and ``batch --baseline``.

Reads two batch output folders (their ``manifest.json`` and the per-country
tables under ``<ISO3>/tables/``), lists what changed with
:func:`p2c_research.analyses.compare.compare_assessments` and writes
``compare.csv`` (one row per change) and ``compare.html`` (self-contained,
every cell escaped) into the newer folder. Both data vintages are named from
the manifests, so a reader knows which data each side rests on.

``invoke batch --baseline OLD_OUT`` (``run_batch(baseline=...)``) records the
baseline in ``OUT/baseline.json`` before the countries run (:func:`set_baseline`;
a batch without one removes it): each country's pledge report then gains a
"Since the last assessment" section (:func:`since_last_assessment`), and the
batch writes the comparison at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from p2c_research.analyses.compare import (
    CHANGE_COLUMNS,
    KINDS,
    TABLES,
    change_counts,
    compare_assessments,
)
from p2c_research.errors import DataError
from p2c_research.escaping import html_text
from p2c_research.labels import label
from p2c_research.report_io import read_country_tables
from p2c_research.reports.tables import render_table
from p2c_research.store import atomic_write_text, write_csv

BASELINE_FILE = "baseline.json"
PLEDGE_KINDS: tuple[str, ...] = ("pledge status", "priority flag")
KIND_TITLES: dict[str, str] = {
    "indicator value": "Indicator values", "verdict": "Verdicts",
    "target progress": "Target progress", "pledge status": "Pledge status",
    "priority flag": "Priority flags",
}
KIND_HELP: dict[str, str] = {
    "indicator value": "Latest values that changed, appeared or vanished.",
    "verdict": "Benchmark verdicts (performance against what income predicts) that changed.",
    "target progress": "Progress towards the same target that moved.",
    "pledge status": "Pledges whose self-reported status changed, or that started or stopped "
                     "reaching the country.",
    "priority flag": "Need-against-support flags of priorities, pillars and the country that "
                     "changed.",
}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
.note{color:#555;max-width:70rem} table{border-collapse:collapse;margin:.6rem 0 1.4rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.illustrative{background:#fff4d6;border-left:4px solid #e0a800;padding:.4rem .8rem;max-width:70rem}
"""


# --------------------------------------------------------------------------- reading outputs
@dataclass
class Assessment:
    """One batch output folder: its manifest and the compared tables of every country."""

    folder: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    countries: list[str]

    @property
    def vintage(self) -> str:
        """One line naming the data and when the reports were made (from the manifest)."""
        data = self.manifest.get("data", {})
        return (f"{self.folder}: reports of {self.manifest.get('generated_at', 'an unknown date')}"
                f" (commit {self.manifest.get('git_commit', 'unknown')}); data fingerprint "
                f"{data.get('fingerprint', 'unknown')}. {data.get('description', '')}").strip()

    @property
    def pledges_synthetic(self) -> bool:
        """True when the pledges of this assessment are synthetic (so its flags are illustrative)."""
        text = str(self.manifest.get("data", {}).get("description", ""))
        basis = self.tables.get("pledge_gaps", pd.DataFrame()).get("pledge_basis")
        from_tables = basis is not None and basis.astype(str).str.contains("synthetic").any()
        return "SYNTHETIC" in text or bool(from_tables)


def load_assessment(folder: Path | str) -> Assessment:
    """Read a batch output folder.

    Raises:
        DataError: the folder or its ``manifest.json`` is missing or unreadable.
    """
    folder = Path(folder).resolve()
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise DataError(f"{folder}: no manifest.json; pass the output folder of a batch "
                        "(`invoke batch --out DIR`)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as exc:
        raise DataError(f"{manifest_path}: unreadable manifest ({exc})") from None
    codes = sorted({str(e.get("country")) for e in manifest.get("outputs", [])
                    if (folder / str(e.get("country")) / "tables").is_dir()})
    tables = read_country_tables(folder, codes, TABLES)
    return Assessment(folder=folder, manifest=manifest, tables=tables, countries=codes)


def _only(tables: dict[str, pd.DataFrame], codes: set[str]) -> dict[str, pd.DataFrame]:
    return {name: frame[frame["iso3"].isin(codes)] for name, frame in tables.items()}


@dataclass
class Comparison:
    """The changes between two assessments, and what a reader needs to trust them."""

    old: Assessment
    new: Assessment
    changes: pd.DataFrame
    compared: list[str]
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    @property
    def illustrative(self) -> bool:
        return self.old.pledges_synthetic or self.new.pledges_synthetic


def compare_outputs(old: Path | str, new: Path | str) -> Comparison:
    """Compare two batch output folders (countries present in both)."""
    a, b = load_assessment(old), load_assessment(new)
    common = sorted(set(a.countries) & set(b.countries))
    changes = compare_assessments(_only(a.tables, set(common)), _only(b.tables, set(common)))
    return Comparison(old=a, new=b, changes=changes, compared=common,
                      only_old=sorted(set(a.countries) - set(common)),
                      only_new=sorted(set(b.countries) - set(common)))


# --------------------------------------------------------------------------- writing
def _table(frame: pd.DataFrame, columns: list[str], what: str = "changes") -> str:
    """The reports' table (labelled headers, numbers right, long lists collapsed)."""
    shown = frame[columns]
    if "item" in shown.columns:  # catalog ids and priority ids read as their names
        shown = shown.assign(item=shown["item"].map(lambda v: label(v) if isinstance(v, str)
                                                    else v))
    return render_table(shown, summary=f"{len(frame)} {what} \u2014 show").html


ILLUSTRATIVE_NOTE = ("Pledge status and priority flags rest on SYNTHETIC pledges: they are "
                     "illustrative, not real changes in P2C commitments.")


def comparison_html(result: Comparison) -> str:
    """``compare.html``: both vintages, counts per country and kind, then every change."""
    changes = result.changes
    counts = change_counts(changes).reindex(result.compared, fill_value=0)
    counts = counts.reset_index().rename(columns={"index": "iso3", "iso3": "iso3"})
    parts = [
        "<h1>p2c-research: progress between two assessments</h1>",
        f"<p class='note'><strong>Before:</strong> {html_text(result.old.vintage)}</p>",
        f"<p class='note'><strong>After:</strong> {html_text(result.new.vintage)}</p>",
        f"<p class='note'>{len(changes)} change(s) across {len(result.compared)} "
        f"countr{'y' if len(result.compared) == 1 else 'ies'} present in both: "
        f"{html_text(', '.join(result.compared) or 'none')}.</p>",
    ]
    if result.only_old or result.only_new:
        parts.append("<p class='note'>Not compared (in one assessment only): "
                     + html_text(", ".join([f"{c} (before only)" for c in result.only_old]
                                             + [f"{c} (after only)" for c in result.only_new]))
                     + ".</p>")
    if result.illustrative:
        parts.append(f"<p class='illustrative'>{html_text(ILLUSTRATIVE_NOTE)}</p>")
    parts += ["<h2>Changes per country</h2>",
              _table(counts, ["iso3", *KINDS], "countries") if not counts.empty
              else "<p>None.</p>"]
    for kind in KINDS:
        rows = changes[changes["kind"] == kind]
        title = KIND_TITLES[kind] + (" (illustrative: synthetic pledges)"
                                     if kind in PLEDGE_KINDS and result.illustrative else "")
        parts += [f"<h2>{html_text(title)}</h2>",
                  f"<p class='note'>{html_text(KIND_HELP[kind])}</p>",
                  _table(rows, ["iso3", "item", "label", "detail", "old", "new"])
                  if not rows.empty else "<p>No change.</p>"]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>p2c-research: comparison</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write_comparison(old: Path | str, new: Path | str, out: Path | str | None = None
                     ) -> dict[str, Path]:
    """Write ``compare.csv`` and ``compare.html`` (default: into ``new``); returns their paths."""
    result = compare_outputs(old, new)
    folder = Path(out) if out else result.new.folder
    folder.mkdir(parents=True, exist_ok=True)
    frame = result.changes.copy()
    frame.insert(0, "pledges", ["synthetic (illustrative)" if k in PLEDGE_KINDS
                                and result.illustrative else "" for k in frame["kind"]])
    csv_path = write_csv(frame, folder / "compare.csv")  # formulas in pledge text made inert
    html_path = folder / "compare.html"
    atomic_write_text(html_path, comparison_html(result))
    return {"csv": csv_path, "html": html_path}


# --------------------------------------------------------------------------- baseline
def check_baseline(baseline: Path | str | None, out: Path | str) -> Path | None:
    """The resolved baseline folder of a batch writing into ``out``, checked, nothing written.

    Raises:
        DataError: the baseline is not a batch output folder (no manifest.json),
            or is ``out`` itself.
    """
    if baseline is None or str(baseline) == "":
        return None
    folder = Path(baseline).expanduser().resolve()
    if not (folder / "manifest.json").exists():
        raise DataError(f"{folder}: not a batch output (no manifest.json); pass the --out "
                        "folder of an earlier `invoke batch`")
    if folder == Path(out).expanduser().resolve():
        raise DataError(f"{folder}: the baseline must be another output folder than --out")
    return folder


def set_baseline(out: Path | str, baseline: Path | str | None) -> Path | None:
    """Record (or, with None, forget) the baseline of the reports written into ``out``.

    Raises:
        DataError: see :func:`check_baseline`.
    """
    marker = Path(out) / BASELINE_FILE
    folder = check_baseline(baseline, out)
    if folder is None:
        marker.unlink(missing_ok=True)
        return None
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps({"baseline": str(folder)}) + "\n")
    return marker


def baseline_of(out: Path | str) -> Path | None:
    """The baseline recorded for ``out`` by :func:`set_baseline`, if any."""
    marker = Path(out) / BASELINE_FILE
    try:
        folder = Path(json.loads(marker.read_text())["baseline"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return folder if (folder / "manifest.json").exists() else None


@dataclass
class SinceLast:
    """The "Since the last assessment" section of one country's pledge report."""

    iso3: str
    baseline: Assessment
    changes: pd.DataFrame
    in_baseline: bool
    illustrative: bool

    def counts_sentence(self) -> str:
        if not self.in_baseline:
            return (f"The baseline ({self.baseline.folder}) has no report for {self.iso3}: "
                    "nothing to compare.")
        if self.changes.empty:
            return "Nothing changed since the last assessment."
        counts = self.changes["kind"].value_counts()
        return "Changes since the last assessment: " + ", ".join(
            f"{int(counts[k])} {k}{'s' if counts[k] > 1 else ''}" for k in KINDS if k in counts
        ) + "."

    def html(self, max_rows: int = 60) -> str:
        """The section as escaped HTML (heading, both vintages, the changes)."""
        parts = ["<h2>Since the last assessment</h2>",
                 f"<p><strong>Baseline:</strong> {html_text(self.baseline.vintage)}</p>",
                 f"<p>{html_text(self.counts_sentence())}</p>"]
        if self.illustrative:
            parts.append(f"<p><em>{html_text(ILLUSTRATIVE_NOTE)}</em></p>")
        if self.in_baseline and not self.changes.empty:
            shown = self.changes.head(max_rows)
            parts.append(_table(shown, ["kind", "item", "label", "detail", "old", "new"]))
            if len(self.changes) > max_rows:
                parts.append(f"<p><em>First {max_rows} of {len(self.changes)} changes; "
                             "compare.csv has them all.</em></p>")
        return "\n".join(parts)


def since_last_assessment(iso3: str, baseline: Path | str, current: dict[str, pd.DataFrame],
                          synthetic: bool) -> SinceLast:
    """Compare this run's tables of ``iso3`` (``current``, by :data:`TABLES` name) with the baseline's."""
    old = load_assessment(baseline)
    own = _only(old.tables, {iso3})
    present = iso3 in old.countries
    changes = (compare_assessments(own, {k: v.assign(iso3=iso3) for k, v in current.items()})
               if present else pd.DataFrame(columns=CHANGE_COLUMNS))
    return SinceLast(iso3=iso3, baseline=old, changes=changes, in_baseline=present,
                     illustrative=synthetic or old.pledges_synthetic)
