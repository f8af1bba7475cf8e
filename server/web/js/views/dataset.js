import { get } from "../api.js";
import { h, replace, seg, sortableTable } from "../dom.js";

const pct = (f) => `${(100 * f).toFixed(1)}%`;

/** Horizontal bars: [label, value] pairs scaled to the largest value. */
function bars(pairs, format = (v) => String(v), label = "chart") {
  const top = Math.max(...pairs.map(([, v]) => v), 0) || 1;
  return h(
    "div",
    { class: "bars", role: "img", "aria-label": label },
    pairs.map(([name, value]) =>
      h(
        "div",
        { class: "bar" },
        h("span", {}, name),
        h("span", {}, h("span", { class: "fill", style: `width:${((100 * value) / top).toFixed(1)}%` })),
        h("span", { class: "num" }, format(value)),
      ),
    ),
  );
}

function distribution(profile) {
  if (profile.numeric) {
    const { edges, counts } = profile.numeric.histogram;
    return bars(
      counts.map((c, i) => [`${Number(edges[i]).toPrecision(3)} – ${Number(edges[i + 1]).toPrecision(3)}`, c]),
      String,
      `histogram of ${profile.name}`,
    );
  }
  if (profile.top_categories?.length) {
    return bars(profile.top_categories.map((c) => [c.value, c.fraction]), pct, `top categories of ${profile.name}`);
  }
  return h("p", { class: "muted" }, "no distribution");
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
    ? bars(p.target.classes.map((c) => [c.value, c.fraction]), pct, "label balance")
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
  );
  const side = (s) =>
    `${s.rows} rows` + (s.class_fractions ? ` · ${Object.entries(s.class_fractions).map(([k, v]) => `${k} ${pct(v)}`).join(", ")}` : "");
  replace(
    ctx.main,
    h("p", {}, h("a", { href: `#/p/${seg(slug)}` }, `← ${slug}`)),
    h("h1", {}, `${ds.name} v${ds.version}`),
    h("p", { class: "muted" }, `${ds.rows} rows · ${ds.columns} columns · ${ds.task} on `, h("strong", {}, ds.target), ` · sha256 ${ds.checksum.slice(0, 16)}…`),
    h("p", {}, h("a", { href: `#/p/${seg(slug)}/new-run?dataset=${seg(ds.name)}@${ds.version}` }, "Train on this version")),
    h("h2", {}, "Warnings"),
    p.warnings.length
      ? h("ul", {}, p.warnings.map((w) => h("li", { class: "warn" }, w.column ? `${w.column}: ` : "", w.message)))
      : h("p", { class: "muted" }, "None."),
    h("h2", {}, "Schema"),
    schema,
    h("h2", {}, "Missing values per column"),
    bars(p.column_profiles.map((c) => [c.name, c.missing_fraction]), pct, "missing values per column"),
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
