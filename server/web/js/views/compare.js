import { descriptions, get } from "../api.js";
import { historyCharts } from "../charts.js";
import { h, metricName, num, plotFigure, replace, seg, sortableTable, useDescriptions } from "../dom.js";
import { noteForm, notesList } from "./notes.js";
import { platformText } from "./run.js";


/**
 * Query by query for two ranking runs: each run's ranking.json holds every query's
 * measures; the table pairs them by query id, largest loss first.
 */
async function perQueryBox(c) {
  const metric = c.paired_test.metric;
  const [ea, eb] = await Promise.all([get(`/api/runs/${seg(c.a.id)}/eval`), get(`/api/runs/${seg(c.b.id)}/eval`)]);
  const byId = new Map((ea.files["ranking.json"]?.per_query ?? []).map((q) => [q.query_id, q]));
  const rows = (eb.files["ranking.json"]?.per_query ?? [])
    .filter((q) => byId.has(q.query_id))
    .map((q) => {
      const va = byId.get(q.query_id).metrics[metric];
      const vb = q.metrics[metric];
      return { id: q.query_id, relevant: q.relevant, a: va, b: vb, delta: vb - va };
    });
  const better = rows.filter((r) => r.delta > 0).length;
  const worse = rows.filter((r) => r.delta < 0).length;
  return h(
    "div",
    { id: "per-query" },
    h("p", {}, `${metric}: B is better on ${better} queries, worse on ${worse}, equal on ${rows.length - better - worse}.`),
    sortableTable(
      [
        { key: "id", label: "Query", value: (r) => r.id, sort: (r) => (Number.isNaN(Number(r.id)) ? r.id : Number(r.id)) },
        { key: "relevant", label: "Relevant", value: (r) => r.relevant, num: true },
        { key: "a", label: "A", value: (r) => num(r.a), sort: (r) => r.a, num: true },
        { key: "b", label: "B", value: (r) => num(r.b), sort: (r) => r.b, num: true },
        { key: "delta", label: "B − A", value: (r) => `${r.delta > 0 ? "+" : ""}${num(r.delta)}`, sort: (r) => r.delta, num: true },
      ],
      rows,
      { caption: `${metric} of every query for run A and run B`, initial: { key: "delta", ascending: true } },
    ),
  );
}

/** How a metric's verdict is coloured: the API's verdict decides (paired CI first). */
function verdictClass(row) {
  return { improved: "better", worse: "worse" }[row.verdict] ?? "noise";
}

function pickForm(ctx, runs) {
  const error = h("p", { class: "field-error", role: "alert" });
  const choose = (id, label, value) =>
    h(
      "label",
      { for: id },
      label,
      h(
        "select",
        { id },
        runs.map((r) => h("option", { value: r.id, selected: r.id === value }, `${r.model} (${r.role}) · ${r.environment?.dataset ?? ""} · ${r.created_at.slice(0, 16).replace("T", " ")} · ${r.id.slice(0, 13)}`)),
      ),
    );
  return h(
    "form",
    {
      class: "row",
      onsubmit: (event) => {
        event.preventDefault();
        const a = document.getElementById("compare-a").value;
        const b = document.getElementById("compare-b").value;
        if (a === b) {
          replace(error, "Pick two different runs: A and B are the same run.");
          return;
        }
        location.hash = `#/compare?a=${seg(a)}&b=${seg(b)}`;
      },
    },
    choose("compare-a", "Run A (before)", ctx.query.get("a")),
    choose("compare-b", "Run B (after)", ctx.query.get("b")),
    h("button", { type: "submit" }, "Compare"),
    error,
  );
}

/**
 * A config-shaped diff (config, params, tags, code) as rows: key, A, B. Config values are
 * shown as JSON; params and tags are text as logged, shown as they are.
 */
function diffRows(diff, text = JSON.stringify) {
  return [
    ...Object.entries(diff?.changed ?? {}).map(([k, v]) => [k, text(v.a), text(v.b)]),
    ...Object.entries(diff?.added ?? {}).map(([k, v]) => [k, "—", text(v)]),
    ...Object.entries(diff?.removed ?? {}).map(([k, v]) => [k, text(v), "—"]),
  ];
}

/** The keys that differ between run A and run B, or the words for none. */
function diffTable(id, diff, caption, same, text = JSON.stringify) {
  const rows = diffRows(diff, text);
  if (!rows.length) return h("p", { class: "muted", id }, same);
  return h(
    "div",
    { id },
    sortableTable(
      [
        { key: "key", label: "Key", value: (r) => r[0] },
        { key: "a", label: "A", value: (r) => r[1] },
        { key: "b", label: "B", value: (r) => r[2] },
      ],
      rows,
      { caption },
    ),
  );
}

const changed = (diff) => diffRows(diff).length > 0;

/**
 * Without both eval reports: the newest logged value of each metric both runs logged,
 * B − A, and the metrics only one of them logged. No verdict: one number per run.
 */
function loggedMetricsBox(logged) {
  const only = ["a", "b"]
    .filter((side) => Object.keys(logged[`only_${side}`] ?? {}).length)
    .map((side) =>
      h(
        "li",
        {},
        `Only run ${side.toUpperCase()} logged: ${Object.entries(logged[`only_${side}`])
          .map(([k, v]) => `${k} = ${num(v)}`)
          .join(", ")}`,
      ),
    );
  return h(
    "div",
    { id: "logged-metrics" },
    h("p", { class: "muted" }, `The newest value of each metric. ${logged.verdict[0].toUpperCase()}${logged.verdict.slice(1)}.`),
    logged.rows.length
      ? sortableTable(
          [
            { key: "metric", label: "Metric", value: (m) => m.metric, cell: (m) => metricName(m.metric) },
            { key: "a", label: "A", value: (m) => num(m.a), sort: (m) => (typeof m.a === "number" ? m.a : null), num: true },
            { key: "b", label: "B", value: (m) => num(m.b), sort: (m) => (typeof m.b === "number" ? m.b : null), num: true },
            { key: "delta", label: "B − A", value: (m) => (m.delta === null ? "n/a" : `${m.delta > 0 ? "+" : ""}${num(m.delta)}`), sort: (m) => m.delta, num: true },
            { key: "steps", label: "At step (A, B)", value: (m) => `${m.step_a}, ${m.step_b}` },
          ],
          logged.rows,
          { caption: "Newest logged value of each metric for run A and run B" },
        )
      : h("p", { class: "muted" }, "No metric was logged by both runs."),
    only.length ? h("ul", {}, only) : null,
  );
}

/** Both runs' inference latency (latency.json); a tracked run's model was never timed. */
function latencyTable(latency) {
  const a = latency?.a ?? {};
  const b = latency?.b ?? {};
  if (!a.measured && !b.measured) return h("p", { class: "muted" }, `Not measured: A ${a.reason ?? "no figures"}; B ${b.reason ?? "no figures"}.`);
  const ms = (side, key, digits) => (side.measured ? `${num(side[key], digits)} ms` : "not measured");
  const rows = [
    ["p50 per batch", ms(a, "p50_ms", 3), ms(b, "p50_ms", 3)],
    ["p95 per batch", ms(a, "p95_ms", 3), ms(b, "p95_ms", 3)],
    ["Batch size", a.measured ? a.batch_size : "—", b.measured ? b.batch_size : "—"],
    ["Per row (p50)", ms(a, "per_sample_ms", 4), ms(b, "per_sample_ms", 4)],
    ["Device", a.device ?? "—", b.device ?? "—"],
    ["Machine", a.measured ? platformText(a.platform) : a.reason, b.measured ? platformText(b.platform) : b.reason],
  ];
  return h(
    "div",
    { id: "latency" },
    h("p", { class: "muted" }, "Timings depend on the machine: compare them only when both runs were timed on the same one."),
    sortableTable(
      [
        { key: "what", label: "Figure", value: (r) => r[0] },
        { key: "a", label: "A", value: (r) => String(r[1]) },
        { key: "b", label: "B", value: (r) => String(r[2]) },
      ],
      rows,
      { caption: "Inference latency of run A and run B" },
    ),
  );
}

/** Two runs side by side: what improved, what got worse, and why we believe it. */
export async function comparePage(ctx) {
  useDescriptions(await descriptions());
  const a = ctx.query.get("a");
  const b = ctx.query.get("b");
  const header = h("h1", {}, "Compare runs");
  if (!a || !b) {
    const anchor = b || a;
    const project = anchor ? (await get(`/api/runs/${seg(anchor)}`)).project : null;
    if (!project) {
      replace(ctx.main, header, h("p", {}, "Pick two runs in a project's runs table, then press \u201cCompare selected\u201d."));
      return;
    }
    let runs = (await get(`/api/projects/${seg(project)}/runs?status=succeeded&limit=200`)).items;
    const anchored = runs.find((r) => r.id === anchor);
    if (anchored) {
      // Like-for-like first: runs on the same dataset version, the baseline before others.
      const same = runs.filter((r) => r.dataset_version_id === anchored.dataset_version_id);
      runs = [...same, ...runs.filter((r) => r.dataset_version_id !== anchored.dataset_version_id)];
      if (!a) {
        const other = same.find((r) => r.id !== anchor && r.role === "baseline") ?? same.find((r) => r.id !== anchor);
        if (other) ctx.query.set("a", other.id);
      }
    }
    replace(
      ctx.main,
      header,
      h("p", { class: "muted" }, "A is the run before the change (usually the baseline), B the run after it. Runs on the same dataset version are listed first."),
      pickForm(ctx, runs),
    );
    return;
  }
  const c = await get(`/api/compare?a=${seg(a)}&b=${seg(b)}`);
  // "logged": a run has no eval report, so only what both runs logged is compared.
  const logged = c.basis === "logged";
  const metrics = c.metrics ?? [];
  const better = metrics.filter((m) => verdictClass(m) === "better");
  const worse = metrics.filter((m) => verdictClass(m) === "worse");
  const unjudged = metrics.filter((m) => m.verdict === "no CI");
  const notesA = notesList(c.notes.a);
  const notesB = notesList(c.notes.b);
  const run = (side) => h("a", { href: `#/runs/${seg(side.id)}` }, `${side.model} (${side.id.slice(0, 13)})`);
  const modes = Object.entries(c.failures?.failure_modes ?? {});
  const perQuery = c.paired_test?.units === "queries" ? await perQueryBox(c) : null;
  // Both runs' step-wise histories (loss curves) of every metric they both logged.
  const histories = await historyCharts([
    { id: c.a.id, label: `A ${c.a.model}` },
    { id: c.b.id, label: `B ${c.b.model}` },
  ]);
  // Needs both eval reports: the verdicts, slices, failures and side-by-side plots.
  const evalSections = logged
    ? []
    : [
        h("h2", {}, "Summary"),
        h(
          "ul",
          {},
          h("li", { class: better.length ? "better" : "" }, `Improved: ${better.map((m) => m.metric).join(", ") || "nothing beyond noise"}`),
          h("li", { class: worse.length ? "worse" : "" }, `Got worse: ${worse.map((m) => m.metric).join(", ") || "nothing beyond noise"}`),
          unjudged.length
            ? h("li", { class: "muted" }, `Changed, with no CI to judge it: ${unjudged.map((m) => `${m.metric} (${m.delta > 0 ? "+" : ""}${num(m.delta)})`).join(", ")}`)
            : null,
          h("li", {}, `Failures: ${c.failures.new?.length ?? 0} new, ${c.failures.fixed?.length ?? 0} fixed, ${c.failures.still_failing ?? 0} still failing`),
          c.paired_test
            ? h(
                "li",
                { id: "paired-test" },
                `${c.paired_test.name} on ${c.paired_test.metric}: B − A = ${c.paired_test.observed > 0 ? "+" : ""}${num(c.paired_test.observed)} over ${c.paired_test.n} ${c.paired_test.units}, p = ${num(c.paired_test.p_value, 4)} (${c.paired_test.n_permutations} permutations, seed ${c.paired_test.seed})`,
              )
            : null,
        ),
        perQuery ? [h("h2", {}, "Per query"), perQuery] : null,
        h("h2", {}, "Metrics"),
        sortableTable(
          [
            { key: "metric", label: "Metric", value: (m) => m.metric, cell: (m) => metricName(m.metric) },
            { key: "a", label: "A", value: (m) => num(m.a), sort: (m) => m.a, num: true },
            { key: "b", label: "B", value: (m) => num(m.b), sort: (m) => m.b, num: true },
            { key: "delta", label: "B − A", value: (m) => num(m.delta), sort: (m) => m.delta, num: true },
            {
              key: "evidence",
              label: "Evidence",
              value: (m) =>
                m.paired
                  ? `paired 95% CI of B − A: [${num(m.paired.ci_low, 3)}, ${num(m.paired.ci_high, 3)}]`
                  : m.cis_overlap === true
                    ? "the runs' 95% CIs overlap"
                    : m.cis_overlap === false
                      ? "the runs' 95% CIs do not overlap"
                      : "no CI for this metric",
            },
            { key: "verdict", label: "Verdict", value: (m) => m.verdict ?? "", cell: (m) => h("span", { class: verdictClass(m) }, m.verdict ?? "") },
          ],
          metrics,
          { caption: "Each metric for run A and run B, and whether the change is more than noise" },
        ),
      ];
  const reportSections = logged
    ? []
    : [
        h("h2", {}, "Slice shifts"),
        c.slices.length
          ? sortableTable(
              [
                { key: "slice", label: "Slice", value: (s) => s.slice },
                { key: "n", label: "Rows", value: (s) => s.n, num: true },
                { key: "a", label: "A", value: (s) => num(s.a, 3), sort: (s) => s.a, num: true },
                { key: "b", label: "B", value: (s) => num(s.b, 3), sort: (s) => s.b, num: true },
                { key: "delta", label: "B − A", value: (s) => num(s.delta, 3), sort: (s) => s.delta, num: true },
                { key: "shifted", label: "Shifted", value: (s) => (s.shifted ? "yes" : s.cis_overlap ? "within noise" : "no") },
              ],
              c.slices,
              { caption: "Slices shared by both runs", initial: { key: "delta", ascending: true } },
            )
          : h("p", { class: "muted" }, "No slices in common."),
        h("h2", {}, "Failures"),
        h("p", {}, `New (failing in B only): ${(c.failures.new ?? []).join(", ") || "none"}`),
        h("p", {}, `Fixed (failing in A only): ${(c.failures.fixed ?? []).join(", ") || "none"}`),
        modes.length
          ? sortableTable(
              [
                { key: "mode", label: "Failure mode", value: ([k]) => k },
                { key: "a", label: "A", value: ([, v]) => v.a, num: true },
                { key: "b", label: "B", value: ([, v]) => v.b, num: true },
                { key: "delta", label: "B − A", value: ([, v]) => v.delta, num: true },
              ],
              modes,
              { caption: "Failure examples per failure mode" },
            )
          : null,
      ];
  const asLogged = (v) => v;
  // Template runs log no params or tags: their sections show only when something differs.
  const loggedDiffs = [
    logged || changed(c.params)
      ? [h("h2", {}, "Params"), diffTable("params-diff", c.params, "Params that differ (text as logged)", "Same params.", asLogged)]
      : null,
    logged || changed(c.tags) ? [h("h2", {}, "Tags"), diffTable("tags-diff", c.tags, "Tags that differ", "Same tags.", asLogged)] : null,
  ];
  replace(
    ctx.main,
    header,
    h("p", {}, "A: ", run(c.a), " → B: ", run(c.b)),
    c.like_for_like ? null : h("p", { class: "warn", role: "note" }, "Not like-for-like: the runs used different dataset versions or splits."),
    ...["a", "b"].flatMap((side) =>
      (c.leak_suspects?.[side] ?? []).map((s) =>
        h("p", { class: "banner warn", role: "note" }, `Run ${side.toUpperCase()} uses feature ${JSON.stringify(s.column)}, a possible target leak: ${s.evidence}. Its numbers are no evidence until the column is checked or left out.`),
      ),
    ),
    logged ? h("p", { class: "banner", role: "note", id: "compare-basis" }, `${c.basis_reason[0].toUpperCase()}${c.basis_reason.slice(1)}`) : null,
    ...evalSections,
    logged ? [h("h2", {}, "Logged metrics"), loggedMetricsBox(c.logged_metrics)] : null,
    histories ? [h("h2", {}, "Metric histories"), h("p", { class: "muted" }, "Each metric both runs logged step by step, A and B on shared axes."), histories] : null,
    ...loggedDiffs,
    h("h2", {}, "Inference latency"),
    latencyTable(c.latency),
    ...reportSections,
    h("h2", {}, "Config"),
    diffTable("config-diff", c.config, "Config values that differ", "Same config."),
    logged || changed(c.code) ? [h("h2", {}, "Code"), diffTable("code-diff", c.code, "Code versions that differ", "Same code version.")] : null,
    h("h2", {}, "Dataset"),
    h(
      "p",
      {},
      c.dataset.same_data ? `Same data (${c.dataset.a.ref})` : `A: ${c.dataset.a.ref}, B: ${c.dataset.b.ref}`,
      c.dataset.same_split ? ", same split." : ", different splits.",
      c.dataset.schema?.added?.length || c.dataset.schema?.removed?.length
        ? ` Schema: +${c.dataset.schema.added.join(", ") || "none"}, −${c.dataset.schema.removed.join(", ") || "none"}.`
        : "",
    ),
    h("h2", {}, "Artifacts"),
    h(
      "ul",
      {},
      ["added", "removed", "changed"].map((k) => h("li", {}, `${k}: ${(c.artifacts[k] ?? []).length ? c.artifacts[k].join(", ") : "none"}`)),
    ),
    logged
      ? null
      : [
          h("h2", {}, "Plots (A left, B right)"),
          h(
            "div",
            { class: "plots wide" },
            c.plots.map((plot) =>
              // Drawn by the server into its cache on first view; no run folder is written.
              plotFigure(`/api/compare/${plot.split("/").map(seg).join("/")}?a=${seg(c.a.id)}&b=${seg(c.b.id)}`, plot, `, run A (${c.a.model}) left and run B (${c.b.model}) right`),
            ),
          ),
        ],
    h("h2", {}, "Notes"),
    h("div", { class: "grid" }, h("div", {}, h("h3", {}, "Run A"), notesA), h("div", {}, h("h3", {}, "Run B"), notesB, noteForm(c.b.id, notesB, { label: "What changed my mind: a note on run B (notes are kept, never edited)", button: "Add note to run B" }))),
  );
}
