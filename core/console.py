"""Terminal rendering of ModelLab objects for the CLI (tables, bars, summaries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from modellab.domain import (
    ColumnProfile,
    DatasetVersion,
    NumericSummary,
    Project,
    Run,
    SourceProfile,
)

if TYPE_CHECKING:
    from modellab.plugins import Registry

SPARK = " ▁▂▃▄▅▆▇█"


def _add(table: Table, *cells: str) -> None:
    """Add a row whose cells are shown as typed: ``[x]`` in a value is not markup."""
    table.add_row(*(Text(c) for c in cells))


def sparkline(counts: list[int]) -> str:
    """A histogram as one line of block characters."""
    top = max(counts) if counts else 0
    if top == 0:
        return ""
    return "".join(SPARK[0 if c == 0 else max(1, round(c / top * 8))] for c in counts)


def bar(fraction: float, width: int = 20) -> str:
    """A horizontal bar for a fraction in [0, 1]."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "·" * (width - filled)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _numeric_cells(n: NumericSummary | None) -> list[str]:
    if n is None:
        return ["", "", "", "", ""]
    return [
        _num(n.min),
        _num(n.quantiles["p50"]),
        _num(n.max),
        _num(n.mean),
        sparkline(n.histogram.counts),
    ]


def dataset_renderable(v: DatasetVersion) -> Group:
    """Schema, profile, split summary and warnings of a dataset version."""
    p = v.profile
    head = Text()
    head.append(f"{v.ref}", style="bold")
    head.append(f"  {v.task} of {v.target!r}\n")
    head.append(f"checksum  {v.checksum}\n")
    head.append(f"rows      {p.rows:,} x {p.columns} columns; {len(v.feature_columns)} features")
    head.append(f"; {p.duplicate_rows} duplicate rows\n")
    src = v.provenance
    head.append(f"source    {src.original_name} ({src.kind}, {len(src.files)} file(s))")
    if p.source is not None:
        head.append(f"; a {p.source.description}")
    if src.source:
        head.append(f"; from {src.source}")
    from modellab.datasets.reading import delimiter_label  # polars: only when needed

    delimiters = {f.path: f.delimiter for f in src.files if f.delimiter is not None}
    if len(set(delimiters.values())) == 1:
        head.append(f"\ndelimiter {delimiter_label(next(iter(delimiters.values())))}")
    elif delimiters:
        shown = ", ".join(f"{path} {delimiter_label(d)}" for path, d in delimiters.items())
        head.append(f"\ndelimiter {shown}")
    head.append(f"\ncreated   {v.created_at.isoformat(timespec='seconds')}")

    schema = Table(title="Schema and profile", title_justify="left", expand=False)
    for col in (
        "column",
        "dtype",
        "type",
        "role",
        "missing",
        "unique",
        "min",
        "median",
        "max",
        "mean",
        "histogram / top values",
    ):
        schema.add_column(col, overflow="fold")
    by_name: dict[str, ColumnProfile] = {c.name: c for c in p.column_profiles}
    for c in v.schema:
        cp = by_name[c.name]
        cells = _numeric_cells(cp.numeric)
        if cp.top_categories:
            cells[-1] = ", ".join(f"{t.value} ({t.count})" for t in cp.top_categories[:3])
        role = c.role.value
        if c.excluded_reason and c.role.value != c.excluded_reason.split(":")[0]:
            role += f": {c.excluded_reason.split(':')[0]}"
        _add(
            schema,
            c.name,
            c.dtype,
            c.logical_type.value,
            role,
            f"{cp.missing} ({cp.missing_fraction:.1%})",
            str(cp.n_unique),
            *cells,
        )

    target = Table(title=Text(f"Target {v.target!r}"), title_justify="left")
    if p.target.classes is not None:
        for col in ("class", "rows", "share", ""):
            target.add_column(col)
        for cls in p.target.classes[:20]:
            _add(target, cls.value, f"{cls.count:,}", f"{cls.fraction:.1%}", bar(cls.fraction))
    elif p.target.distribution is not None:
        d = p.target.distribution
        for col in ("min", "p25", "median", "p75", "max", "mean", "std", "histogram"):
            target.add_column(col)
        q = d.quantiles
        _add(
            target,
            _num(d.min),
            _num(q["p25"]),
            _num(q["p50"]),
            _num(q["p75"]),
            _num(d.max),
            _num(d.mean),
            _num(d.std),
            sparkline(d.histogram.counts),
        )

    s = v.split
    split = Table(title=f"Split: {s.strategy.value}", title_justify="left")
    for col in ("side", "rows", "detail"):
        split.add_column(col)
    for name, side in (("train", s.train), ("test", s.test)):
        detail = []
        if side.class_fractions:
            detail.append(
                ", ".join(f"{k} {f:.1%}" for k, f in list(side.class_fractions.items())[:6])
            )
        if side.time_min is not None:
            detail.append(f"{side.time_min} .. {side.time_max}")
        if side.groups is not None:
            detail.append(f"{side.groups} groups")
        _add(split, name, f"{side.rows:,}", "; ".join(detail))
    split_note = Text(
        f"test size {s.test_size}, seed {s.seed}, split checksum {s.checksum[:16]}…"
        if s.test_size is not None
        else f"as given by the train/test files; split checksum {s.checksum[:16]}…"
    )

    parts: list[Any] = [head, Text(""), schema, target, split, split_note]
    if p.source is not None:
        parts.extend(_source_tables(p.source))
    if s.duplicates is not None:
        parts.append(Text(f"duplicate records: {s.duplicates.reason}"))
    if v.schema_diff:
        diff = v.schema_diff
        changes = [f"+{a}" for a in diff.added] + [f"-{r}" for r in diff.removed]
        changes += [f"~{c.column}: {c.before} -> {c.after}" for c in diff.changed]
        parts.append(
            Text(
                f"\nSchema vs version {diff.against_version}: "
                + ("; ".join(changes) or "no change")
            )
        )
    if p.warnings:
        parts.append(Text("\nWarnings", style="bold yellow"))
        for w in p.warnings:
            parts.append(Text(f"  ! {w.message}", style="yellow"))
    if v.notes:
        parts.append(Text("\nNotes", style="bold"))
        for n in v.notes:
            parts.append(Text(f"  {n.created_at.isoformat(timespec='seconds')}  {n.text}"))
    return Group(*parts)


def _source_tables(src: SourceProfile) -> list[Any]:
    """What a source format profiled: counts, distributions, categories, singled-out ids."""
    title = src.description[:1].upper() + src.description[1:]
    counts = Table(title=title, title_justify="left")
    for col in ("", "count"):
        counts.add_column(col)
    for c in src.counts:
        _add(counts, c.label, f"{c.value:,}")
    for i in src.ids:
        _add(counts, i.label, f"{i.count:,}")
    dist = Table(title="Distributions", title_justify="left")
    for col in ("", "min", "p25", "median", "p75", "max", "mean", "histogram"):
        dist.add_column(col)
    for d in src.distributions:
        q = d.summary.quantiles
        _add(
            dist,
            d.label,
            _num(d.summary.min),
            _num(q["p25"]),
            _num(q["p50"]),
            _num(q["p75"]),
            _num(d.summary.max),
            _num(d.summary.mean),
            sparkline(d.summary.histogram.counts),
        )
    parts: list[Any] = [Text(""), counts, dist]
    for cat in src.categories:
        parts.append(
            Text(f"{cat.label}: " + ", ".join(f"{c.value} {c.count:,}" for c in cat.counts))
        )
    for i in src.ids:
        if i.ids:
            more = f" ... ({i.count:,} in all)" if i.count > 10 else ""
            parts.append(Text(f"{i.label}: {', '.join(i.ids[:10])}{more}"))
    return parts


def print_dataset(console: Console, v: DatasetVersion) -> None:
    """Print a dataset version's inspection."""
    console.print(dataset_renderable(v))


def print_dataset_list(console: Console, versions: list[DatasetVersion]) -> None:
    """Print one line per dataset version."""
    if not versions:
        console.print(
            "No datasets yet. Add one with: "
            "modellab dataset add --project P --name N --target COL FILE.csv"
        )
        return
    table = Table()
    for col in ("dataset", "task", "target", "rows", "columns", "split", "checksum", "created"):
        table.add_column(col)
    for v in versions:
        _add(
            table,
            v.ref,
            v.task,
            v.target,
            f"{v.rows:,}",
            str(v.columns),
            v.split.strategy.value,
            v.checksum[:12],
            v.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def print_projects(console: Console, projects: list[Project]) -> None:
    """Print one line per project."""
    if not projects:
        console.print("No projects yet. Create one with: modellab project create NAME")
        return
    table = Table()
    for col in ("slug", "name", "id", "created"):
        table.add_column(col)
    for p in projects:
        _add(table, p.slug, p.name, p.id, p.created_at.isoformat(timespec="seconds"))
    console.print(table)


def headline_text(run: Run) -> str:
    """``metric value [ci_low, ci_high]`` of a run's primary metric, or ``""``."""
    primary = run.metrics.get("primary_metric")
    est = run.metrics.get("headline", {}).get(primary or "", {})
    if est.get("value") is None:
        return ""
    text = f"{primary} {est['value']:.4f}"
    if est.get("ci_low") is not None:
        text += f" [{est['ci_low']:.3f}, {est['ci_high']:.3f}]"
    return text


def print_runs(console: Console, runs: list[Run]) -> None:
    """Print one line per run with its headline metric."""
    if not runs:
        console.print(
            "No runs yet. Start one with: "
            "modellab run --project P --dataset N --template T --model M"
        )
        return
    table = Table()
    for col in ("run", "status", "template", "model", "role", "dataset", "headline", "created"):
        table.add_column(col, overflow="fold")
    for r in runs:
        headline = headline_text(r)
        _add(
            table,
            r.id[:13],
            r.status.value,
            r.template,
            r.model,
            r.role,
            str(r.environment.get("dataset", "")),
            headline,
            r.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def print_plugins(console: Console, registry: Registry) -> None:
    """Print each plugin with its distribution and what it registers."""
    if not registry.plugins:
        console.print("No plugins installed (entry-point group 'modellab').")
        return
    table = Table()
    columns = ("plugin", "distribution", "version", "task types", "templates", "evaluators")
    for col in (*columns, "slicers"):
        table.add_column(col, overflow="fold")
    for info in registry.plugins:
        reg = registry.registered_by(info.name)
        templates = []
        for t in reg["templates"]:
            variants = registry.templates[t].variants
            templates.append(f"{t} ({', '.join(f'{v.name}[{v.role}]' for v in variants)})")
        templates += [f"+ {v}" for v in reg["variants"]]
        _add(
            table,
            info.name,
            info.distribution,
            info.version,
            ", ".join(reg["task_types"]) or "-",
            "\n".join(templates) or "-",
            ", ".join(reg["evaluators"]) or "-",
            ", ".join(reg["slicers"]) or "-",
        )
    console.print(table)
