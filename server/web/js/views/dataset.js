import { get } from "../api.js";
import { h, num, replace, seg, sortableTable } from "../dom.js";

const pct = (f) => `${(100 * f).toFixed(1)}%`;

/**
 * Horizontal bars for [label, value] pairs. Bars are scaled to `scale` (1 for fractions,
 * so 3% missing looks small) or, without it, to the largest value.
 */
function bars(pairs, format = (v) => String(v), label = "chart", scale = null) {
  const top = scale ?? (Math.max(...pairs.map(([, v]) => v), 0) || 1);
  return h(
    "div",
    { class: "bars", role: "img", "aria-label": `${label}: ${pairs.map(([name, value]) => `${name} ${format(value)}`).join(", ")}` },
    pairs.map(([name, value]) =>
      h(
        "div",
        { class: "bar", "aria-hidden": "true" },
        h("span", {}, name),
        h("span", { class: "track" }, h("span", { class: "fill", style: `width:${Math.min(100, (100 * value) / top).toFixed(1)}%` })),
        h("span", { class: "num" }, format(value)),
      ),
    ),
  );
}

/** A number as people write it: no exponent, as many decimals as the bin width needs. */
function plain(value, width) {
  const digits = width > 0 ? Math.max(0, Math.min(6, Math.ceil(-Math.log10(width)) + 1)) : 2;
  return Number(value).toFixed(digits);
}

/** Histogram bins as labelled bars; an integer column with few values gets a bar per value. */
function histogram(name, numeric, logicalType, distinct) {
  const { edges, counts } = numeric.histogram;
  const width = edges.length > 1 ? edges[1] - edges[0] : 0;
  if (logicalType === "integer" && distinct <= 20) {
    const pairs = [];
    counts.forEach((count, i) => {
      if (!count) return;
      const low = Math.ceil(edges[i]);
      const high = i === counts.length - 1 ? Math.floor(edges[i + 1]) : Math.ceil(edges[i + 1]) - 1;
      pairs.push([low >= high ? String(low) : `${low} – ${high}`, count]);
    });
    return bars(pairs, String, `counts of ${name}`);
  }
  return bars(
    counts.map((c, i) => [`${plain(edges[i], width)} – ${plain(edges[i + 1], width)}`, c]),
    String,
    `histogram of ${name}`,
  );
}

/** A free-text column: words per row, its vocabulary, and rows of the commonest classes. */
function textSummary(profile) {
  const t = profile.text;
  const w = t.words;
  return h(
    "div",
    { class: "text-summary" },
    w ? histogram(`words per row of ${profile.name}`, w, "numeric", Infinity) : null,
    h(
      "p",
      { class: "muted" },
      w ? `words per row: median ${w.quantiles?.p50 ?? "?"} · mean ${num(w.mean, 3)} · max ${w.max} · ` : "",
      `vocabulary ${t.vocabulary.toLocaleString("en-US")} distinct words`,
    ),
    t.samples.length
      ? h(
          "table",
          {},
          h("caption", {}, `Sample rows of ${profile.name} by class`),
          h("thead", {}, h("tr", {}, h("th", {}, "Class"), h("th", {}, "Text"))),
          h("tbody", {}, t.samples.map((s) => h("tr", {}, h("td", {}, s.label), h("td", {}, s.text)))),
        )
      : null,
  );
}

function distribution(profile) {
  if (profile.text) return textSummary(profile);
  if (profile.numeric) {
    const n = profile.numeric;
    const width = (n.max - n.min) / 20 || 1;
    return h(
      "div",
      {},
      histogram(profile.name, n, profile.logical_type, profile.n_unique ?? Infinity),
      n.mean !== undefined
        ? h("p", { class: "muted" }, `min ${plain(n.min, width)} · median ${plain(n.quantiles?.p50 ?? NaN, width)} · mean ${plain(n.mean, width / 10)} · max ${plain(n.max, width)}`)
        : null,
    );
  }
  if (profile.top_categories?.length) {
    return bars(profile.top_categories.map((c) => [c.value, c.fraction]), pct, `top categories of ${profile.name}`, 1);
  }
  return h("p", { class: "muted" }, "no distribution");
}

const DELIMITER_NAMES = { ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe" };
const delimiterLabel = (d) => `${d === "\t" ? "\\t" : d} (${DELIMITER_NAMES[d] ?? "other"})`;

/** Where the bytes came from, and the delimiter each CSV file was read with. */
function sourceLine(provenance) {
  const csvs = provenance.files.filter((f) => f.delimiter);
  const same = new Set(csvs.map((f) => f.delimiter)).size === 1;
  const delimiter = !csvs.length
    ? provenance.files.every((f) => /\.parquet$/i.test(f.path))
      ? " · Parquet"
      : ""
    : same
      ? ` · delimiter ${delimiterLabel(csvs[0].delimiter)}`
      : ` · delimiters ${csvs.map((f) => `${f.path} ${delimiterLabel(f.delimiter)}`).join(", ")}`;
  return h("p", { class: "muted", id: "dataset-source" }, `Read from ${provenance.original_name} (${provenance.files.length} file${provenance.files.length === 1 ? "" : "s"})${delimiter}`);
}

/**
 * What a source format profiled (a retrieval collection's documents, queries and judgments):
 * its counts, distributions, value counts and the records it singles out.
 */
function sourceProfile(src) {
  const title = src.description.charAt(0).toUpperCase() + src.description.slice(1);
  return h(
    "section",
    { id: "source-profile" },
    h("h2", {}, title),
    h("dl", {}, [...src.counts, ...src.ids.map((i) => ({ label: i.label, value: i.count }))].flatMap((c) => [h("dt", {}, c.label), h("dd", {}, c.value.toLocaleString("en-US"))])),
    h(
      "div",
      { class: "grid" },
      src.distributions.map((d) =>
        h(
          "div",
          { class: "card" },
          h("h3", {}, d.label),
          histogram(d.label, d.summary, "float", Infinity),
          h("p", { class: "muted" }, `min ${d.summary.min} · median ${d.summary.quantiles.p50} · mean ${d.summary.mean.toFixed(2)} · max ${d.summary.max}`),
        ),
      ),
    ),
    src.categories.map((c) => [h("h3", {}, c.label), bars(c.counts.map((v) => [v.value, v.count]), (n) => n.toLocaleString("en-US"), c.label)]),
    src.ids
      .filter((i) => i.count)
      .map((i) => h("p", {}, h("strong", {}, `${i.label}: `), i.ids.join(", "), i.count > i.ids.length ? ` … (${i.count} in all)` : "")),
    h("p", { class: "muted" }, `Stored beside the rows: ${src.attachments.join(", ")}.`),
  );
}

/** A dataset version: schema, missingness, distributions, target, split, warnings, versions. */
export async function datasetPage(ctx) {
  const [slug, name] = ctx.params;
  const version = ctx.query.get("v");
  const path = `/api/projects/${seg(slug)}/datasets/${seg(name)}`;
  const [ds, all] = await Promise.all([get(version ? `${path}/versions/${seg(version)}` : path), get(`/api/projects/${seg(slug)}/datasets`)]);
  const versions = all.filter((d) => d.name === ds.name).sort((a, b) => b.version - a.version);
  const p = ds.profile;
  const target = p.target.classes
    ? bars(p.target.classes.map((c) => [c.value, c.fraction]), pct, "label balance", 1)
    : p.target.distribution
      ? distribution({ name: p.target.column, numeric: p.target.distribution })
      : h("p", {}, "—");
  const schema = sortableTable(
    [
      { key: "name", label: "Column", value: (c) => c.name },
      { key: "type", label: "Type", value: (c) => c.logical_type },
      { key: "dtype", label: "Stored as", value: (c) => c.dtype },
      { key: "role", label: "Role", value: (c) => (c.excluded_reason ? `${c.role} (${c.excluded_reason})` : c.role) },
      { key: "card", label: "Distinct", value: (c) => c.cardinality, num: true },
      { key: "null", label: "Nullable", value: (c) => (c.nullable ? "yes" : "no") },
    ],
    ds.schema,
    { caption: "Columns of the dataset" },
  );
  const side = (s) =>
    `${s.rows} rows` + (s.class_fractions ? ` · ${Object.entries(s.class_fractions).map(([k, v]) => `${k} ${pct(v)}`).join(", ")}` : "");
  replace(
    ctx.main,
    h("p", {}, h("a", { href: `#/p/${seg(slug)}` }, `← ${slug}`)),
    h("h1", {}, `${ds.name} v${ds.version}`),
    h("p", { class: "muted" }, `${ds.rows} rows · ${ds.columns} columns · ${ds.task} on `, h("strong", {}, ds.target), ` · sha256 ${ds.checksum.slice(0, 16)}…`),
    sourceLine(ds.provenance),
    h("p", {}, h("a", { href: `#/p/${seg(slug)}/new-run?dataset=${seg(ds.name)}@${ds.version}` }, "Train on this version")),
    h("h2", {}, "Warnings"),
    p.warnings.length
      ? h("ul", {}, p.warnings.map((w) => h("li", { class: "warn" }, w.column ? `${w.column}: ` : "", w.message)))
      : h("p", { class: "muted" }, "None."),
    p.source ? sourceProfile(p.source) : null,
    h("h2", {}, "Schema"),
    schema,
    h("h2", {}, "Missing values per column"),
    bars(p.column_profiles.map((c) => [c.name, c.missing_fraction]), pct, "missing values per column", 1),
    h("h2", {}, p.target.classes ? "Label balance" : "Target distribution"),
    target,
    h("h2", {}, "Distributions"),
    h(
      "div",
      { class: "grid" },
      p.column_profiles.map((c) => h("div", { class: "card" }, h("h3", {}, c.name), distribution(c))),
    ),
    h("h2", {}, "Split"),
    h(
      "p",
      {},
      `${ds.split.strategy}, seed ${ds.split.seed}: train ${side(ds.split.train)}; test ${side(ds.split.test)}. Checksum ${ds.split.checksum.slice(0, 16)}…`,
      ds.split.duplicates ? h("br") : null,
      ds.split.duplicates ? `Duplicate records: ${ds.split.duplicates.reason}.` : null,
    ),
    h("h2", {}, "Versions"),
    h(
      "ul",
      {},
      versions.map((v) =>
        h(
          "li",
          {},
          h("a", { href: `#/p/${seg(slug)}/datasets/${seg(ds.name)}?v=${v.version}` }, `v${v.version}`),
          ` ${v.created_at.slice(0, 19)} · ${v.rows} rows`,
          v.schema_diff
            ? ` · against v${v.schema_diff.against_version}: +${v.schema_diff.added.join(", ") || "none"}, −${v.schema_diff.removed.join(", ") || "none"}, changed ${v.schema_diff.changed.length}`
            : "",
        ),
      ),
    ),
    ds.notes.length ? [h("h2", {}, "Notes"), h("ul", {}, ds.notes.map((n) => h("li", {}, `${n.created_at.slice(0, 19)}: `, n.text)))] : null,
  );
}
