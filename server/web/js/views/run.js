import { ApiError, descriptions, get } from "../api.js";
import { historyCharts } from "../charts.js";
import { cancelButton } from "./progress.js";
import { deltaSpan, estimate, failureMode, FINAL, h, metricName, num, plotFigure, readable, replace, seg, sortableTable, status, useDescriptions } from "../dom.js";
import { noteForm, notesList } from "./notes.js";


/** A run's log, tailed while it runs (the API serves it from a byte offset). */
function logTail(ctx, run) {
  const waiting = h("span", { class: "muted" }, FINAL.has(run.status) ? "The log is empty." : "Waiting for the first log line…");
  const pre = h("pre", { "aria-label": "training log", tabindex: 0 }, waiting);
  let offset = 0;
  const pull = async () => {
    const response = await fetch(`/api/runs/${seg(run.id)}/logs?offset=${offset}`);
    if (!response.ok) return;
    const text = await response.text();
    offset = Number(response.headers.get("X-Next-Offset") ?? offset + text.length);
    if (text) {
      waiting.remove();
      pre.append(document.createTextNode(text));
      pre.scrollTop = pre.scrollHeight;
    }
  };
  pull();
  if (!FINAL.has(run.status)) ctx.every(1500, pull);
  return pre;
}

function metricsTable(files, role) {
  const m = files["metrics.json"];
  const ci = files["confidence_intervals.json"]?.intervals ?? {};
  if (!m) return h("p", { class: "muted" }, "No metrics.");
  const rows = Object.entries(m.metrics).map(([name, value]) => ({
    name,
    value,
    ci: ci[name],
    baseline: m.baseline?.metrics?.[name],
    delta: m.deltas?.[name],
    better: m.higher_is_better?.[name],
  }));
  const deltaCell = (r) => {
    if (!r.delta) {
      if (typeof r.value !== "number" || typeof r.baseline !== "number") return "—";
      const d = r.value - r.baseline;
      return h("span", { class: "noise" }, `${d > 0 ? "+" : ""}${num(d)} (no CI)`);
    }
    return deltaSpan(r.delta, r.better);
  };
  const compared = rows.some((r) => typeof r.baseline === "number");
  // A baseline is the bar itself: "no improvement can be claimed" is true but beside the point.
  const note =
    role === "baseline" && !compared
      ? h("p", { class: "muted", role: "note" }, "This is a baseline run: the bar that candidate models on this dataset version are measured against.")
      : m.improvement_is_meaningful
        ? null
        : h("p", { class: "warn", role: "note" }, "Improvement not meaningful: ", readable(m.improvement_reason ?? "no baseline"));
  return h(
    "div",
    {},
    note,
    sortableTable(
      [
        { key: "name", label: "Metric", value: (r) => r.name, cell: (r) => metricName(r.name) },
        { key: "value", label: "Value (95% CI)", value: (r) => (r.value === null ? "n/a" : r.ci ? `${num(r.value)} [${num(r.ci.ci_low, 3)}, ${num(r.ci.ci_high, 3)}]` : num(r.value)), sort: (r) => r.value, num: true },
        compared ? { key: "baseline", label: "Baseline", value: (r) => num(r.baseline), sort: (r) => r.baseline, num: true } : null,
        compared ? { key: "delta", label: "Delta vs baseline", value: (r) => r.delta?.value, cell: deltaCell, num: true } : null,
      ].filter(Boolean),
      rows,
      { caption: compared ? "Metrics on the test set against the baseline" : "Metrics on the test set" },
    ),
    Object.keys(m.notes ?? {}).length
      ? h("ul", { class: "muted" }, Object.entries(m.notes).map(([name, says]) => h("li", {}, h("strong", {}, name), `: ${says}`)))
      : null,
  );
}

/**
 * The failure examples of a slice, or null when examples cannot be matched to its family
 * (only class and key-feature slices name something an example records).
 */
function inSlice(examples, slice) {
  const [family, ...rest] = slice.id.split(":");
  if (family === "class") return examples.filter((e) => String(e.truth) === rest.join(":"));
  if (family === "key_feature") {
    const [column, ...value] = rest;
    const wanted = value.join(":").replace(/^'(.*)'$/, "$1");
    return examples.filter((e) => String(e.input_summary?.[column]) === wanted);
  }
  return null;
}

/**
 * A ranking report's queries (ranking.json): what the means are over, the paired
 * randomization test against the baseline, and every query's primary metric.
 */
function rankingSection(ranking, primary) {
  const test = ranking.randomization;
  const facts = [
    ["Queries", ranking.num_q],
    ["Without a relevant document (score 0)", `${ranking.no_relevant_queries.length}${ranking.no_relevant_queries.length ? `: ${ranking.no_relevant_queries.slice(0, 10).join(", ")}` : ""}`],
    ["Missing from the run (score 0)", ranking.missing_queries.length],
    [`Tied scores in the top ${ranking.tie_k}`, `${(100 * ranking.tie_share).toFixed(1)}% of queries (ordered by document id)`],
    ["Cutoffs K", ranking.cutoffs.join(", ")],
    ["NDCG gain", ranking.gain],
  ];
  const rows = ranking.per_query.map((q) => ({
    ...q,
    value: q.metrics[primary],
    base: q.baseline?.[primary],
    delta: q.baseline ? q.metrics[primary] - q.baseline[primary] : null,
  }));
  const paired = rows.some((r) => typeof r.base === "number");
  return h(
    "div",
    { id: "queries" },
    h("p", { class: "muted" }, readable(ranking.conventions), "."),
    h("dl", {}, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    test
      ? h(
          "p",
          { id: "randomization" },
          `Paired randomization test on ${test.metric} against the baseline: ${test.observed > 0 ? "+" : ""}${num(test.observed)} over ${test.n} queries, p = ${num(test.p_value, 4)} (${test.n_permutations} sign flips, seed ${test.seed}).`,
        )
      : null,
    sortableTable(
      [
        { key: "id", label: "Query", value: (r) => r.query_id, sort: (r) => (Number.isNaN(Number(r.query_id)) ? r.query_id : Number(r.query_id)) },
        { key: "candidates", label: "Documents", value: (r) => r.candidates, num: true },
        { key: "relevant", label: "Relevant", value: (r) => r.relevant, num: true },
        { key: "value", label: primary, value: (r) => num(r.value), sort: (r) => r.value, num: true },
        paired ? { key: "base", label: "Baseline", value: (r) => num(r.base), sort: (r) => r.base, num: true } : null,
        paired ? { key: "delta", label: "Change", value: (r) => `${r.delta > 0 ? "+" : ""}${num(r.delta)}`, sort: (r) => r.delta, num: true } : null,
      ].filter(Boolean),
      rows,
      { caption: `${primary} of every query${paired ? ", against the baseline" : ""}`, initial: { key: paired ? "delta" : "value", ascending: true } },
    ),
  );
}

/** Failure examples, optionally only those of one slice. */
function failureTable(examples, slice) {
  let shown = examples;
  let note = null;
  if (slice) {
    shown = inSlice(examples, slice);
    if (shown === null) {
      shown = examples;
      note = h("p", { class: "muted" }, `Examples are not matched to ${slice.family} slices; all are shown.`);
    }
  }
  if (!shown.length) return h("p", { class: "muted" }, slice ? `No failure examples in slice ${slice.id}.` : "No failure examples.");
  const outcome = (e) =>
    e.confidence === null || e.confidence === undefined ? "error" : String(e.truth) === String(e.prediction) ? "right, unsure" : "wrong";
  return h(
    "div",
    {},
    note,
    sortableTable(
      [
        { key: "id", label: "Example id", value: (e) => e.example_id, sort: (e) => Number(e.example_id) },
        { key: "outcome", label: "Outcome", value: outcome },
        { key: "category", label: "Failure mode", value: (e) => e.category, cell: (e) => h("span", { class: "pill", title: failureMode(e.category)[1] }, failureMode(e.category)[0]) },
        { key: "truth", label: "Truth", value: (e) => String(e.truth) },
        { key: "prediction", label: "Prediction", value: (e) => String(e.prediction) },
        { key: "confidence", label: "Confidence", value: (e) => (e.confidence === null ? "—" : num(e.confidence, 3)), sort: (e) => e.confidence, num: true },
        { key: "reason", label: "Why", value: (e) => e.reason },
        { key: "inputs", label: "Inputs", value: (e) => Object.entries(e.input_summary ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") },
        // A text run's failures name the training text that reads most alike, and its label.
        shown.some((e) => e.nearest_training)
          ? {
              key: "nearest",
              label: "Nearest training text",
              value: (e) => (e.nearest_training ? `${e.nearest_training.label} (similarity ${num(e.nearest_training.similarity, 2)}): ${e.nearest_training.text}` : "—"),
              sort: (e) => e.nearest_training?.similarity ?? -1,
            }
          : null,
      ].filter(Boolean),
      shown,
      { caption: slice ? `Failure examples in slice ${slice.id}` : "Failure examples" },
    ),
  );
}

function slicesTable(slices, metric, ranking, examples, onPick) {
  // The whole test set again says nothing here; a slice too small to measure is still
  // listed, since its failure examples may be the ones worth a look.
  const rows = slices.filter((s) => s.status !== "all_rows");
  if (!rows.length) return h("p", { class: "muted" }, "No slices.");
  const failures = (s) => inSlice(examples, s)?.length ?? null;
  const flag = (s) => ({ ok: "", too_small: "too small to measure" })[s.status] ?? s.status;
  // Weakest first is EvalHarness's ranking, which knows the metric's direction: for a
  // lower-is-better metric (MAE) the weakest slice has the largest delta, so sorting by
  // delta would list the best slice first. Unranked slices (too small) come last.
  const rankOf = new Map((ranking ?? []).map((id, i) => [id, i + 1]));
  const rank = (s) => rankOf.get(s.id) ?? null;
  const also = (s) => Object.entries(s.metrics ?? {}).filter(([m]) => m !== metric);
  return sortableTable(
    [
      { key: "rank", label: "Rank (weakest first)", value: (s) => rank(s) ?? "—", sort: rank, num: true },
      { key: "id", label: "Slice", value: (s) => s.id, cell: (s) => h("button", { type: "button", class: "secondary", onclick: () => onPick(s) }, s.id) },
      { key: "definition", label: "Definition", value: (s) => s.definition },
      { key: "n", label: "Rows", value: (s) => s.n, num: true },
      { key: "metric", label: `${metric} (95% CI)`, value: (s) => estimate(s.metrics?.[metric], 3), sort: (s) => s.metrics?.[metric]?.value, num: true },
      { key: "delta", label: "Delta vs overall", value: (s) => estimate(s.delta?.[metric], 3), sort: (s) => s.delta?.[metric]?.value, num: true },
      // A family may measure more than the ranking metric (out-of-scope queries: how
      // often they get a confident intent).
      rows.some((s) => also(s).length)
        ? { key: "also", label: "Also measured (95% CI)", value: (s) => also(s).map(([m, e]) => `${m} ${estimate(e, 3)}`).join("; ") || "—" }
        : null,
      { key: "failures", label: "Failure examples", value: (s) => (failures(s) === null ? "—" : failures(s)), sort: failures, num: true },
      rows.some((s) => s.status !== "ok")
        ? { key: "status", label: "Flag", value: (s) => s.status, cell: (s) => (s.status === "ok" ? "" : h("span", { class: "warn" }, flag(s))) }
        : null,
    ].filter(Boolean),
    rows,
    { caption: "Slices of the test set, weakest first", initial: { key: "rank", ascending: true } },
  );
}

/** A stress row's kind; folders written before kinds existed: label noise is the reference. */
const stressKind = (r) => r.kind ?? (r.scenario === "label_noise" ? "metric_sensitivity" : "model_robustness");

function stressRows(stress, rows, caption) {
  const models = new Set(rows.map((r) => r.model));
  return sortableTable(
    [
      { key: "scenario", label: "Scenario", value: (r) => r.scenario },
      models.size > 1 ? { key: "model", label: "Model", value: (r) => r.model } : null,
      { key: "severity", label: "Severity", value: (r) => r.severity, num: true },
      { key: "value", label: `${stress.metric} (95% CI)`, value: (r) => estimate(r, 3), sort: (r) => r.value, num: true },
      { key: "degradation", label: `Change from clean data`, value: (r) => (r.degradation === null ? "—" : `${r.degradation > 0 ? "+" : ""}${num(r.degradation, 3)}`), sort: (r) => r.degradation, num: true },
      rows.some((r) => r.status !== "ok")
        ? { key: "status", label: "Status", value: (r) => r.status, cell: (r) => (r.status === "ok" ? "ran" : h("span", { class: "warn" }, r.status)) }
        : null,
    ].filter(Boolean),
    rows,
    { caption },
  );
}

function stressTable(stress) {
  if (!stress?.rows?.length) return h("p", { class: "muted" }, "No stress tests.");
  const robustness = stress.rows.filter((r) => stressKind(r) === "model_robustness");
  const sensitivity = stress.rows.filter((r) => stressKind(r) === "metric_sensitivity");
  return h(
    "div",
    {},
    h(
      "ul",
      { class: "muted" },
      Object.entries(stress.scenarios ?? {}).map(([name, says]) => h("li", {}, h("strong", {}, name), `: ${says}`)),
    ),
    h("h3", {}, "Model robustness"),
    h("p", { class: "muted" }, "Inputs corrupted or shifted: how much the model degrades. The takeaway's worst degradation is picked from these rows only."),
    robustness.length ? stressRows(stress, robustness, "Stress tests: model robustness") : h("p", { class: "muted" }, "No model-robustness scenario ran."),
    sensitivity.length ? h("h3", {}, "Metric sensitivity (a reference, not the model)") : null,
    sensitivity.length
      ? h("p", { class: "muted" }, `Label noise corrupts the true labels, not the inputs: it shows how much ${stress.metric} moves when labels are wrong, and a perfect model loses about as much, so it is never this model's weakness.`)
      : null,
    sensitivity.length ? stressRows(stress, sensitivity, "Stress tests: metric sensitivity") : null,
  );
}

function copyButton(text) {
  const said = h("span", { role: "status", class: "muted" });
  return h(
    "span",
    { class: "row" },
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(text);
            replace(said, "Copied.");
          } catch {
            replace(said, "Copy failed: select the command and copy it by hand.");
          }
        },
      },
      "Copy",
    ),
    said,
  );
}

/** One run: status, live log, provenance, metrics with CIs, plots, slices, failures, stress. */
/** A banner naming every feature suspected of leaking the target, and how to leave it out. */
/** The machine a run's timings were taken on, in one line. */
export function platformText(platform) {
  if (!platform) return "—";
  const cpus = platform.cpu_count ? `, ${platform.cpu_count} CPUs` : "";
  return `${platform.system ?? "?"} ${platform.machine ?? ""}${cpus}, Python ${platform.python ?? "?"}`;
}

/** Inference latency from the run's latency.json: timed on this machine, so outside eval/. */
function latencySection(latency) {
  if (!latency?.measured) {
    return h("p", { class: "muted", id: "latency" }, `Not measured: ${latency?.reason ?? "no latency figures"}.`);
  }
  // The index settings' timings are in the index sweep's table, beside their recall.
  const stages = (latency.parts ?? []).filter((p) => !p.name.startsWith(INDEX_PART));
  return h(
    "div",
    { id: "latency" },
    h("p", { class: "muted" }, `${latency.call ?? "predict"} on ${latency.batch ?? "a test batch"}, ${latency.repeats} timed calls after ${latency.warmup} warm-up calls. Timings depend on the machine: they are kept in latency.json beside the eval folder and left out of reproduce's byte check.`),
    h(
      "dl",
      {},
      [
        ["p50 per batch", `${num(latency.p50_ms, 3)} ms`],
        ["p95 per batch", `${num(latency.p95_ms, 3)} ms`],
        ["Batch size", `${latency.batch_size} ${latency.batch_unit ?? "rows"}`],
        [`Per ${latency.batch_unit === "queries" ? "query" : "row"} (p50)`, `${num(latency.per_sample_ms, 4)} ms`],
        ["Device", latency.device],
        ["Machine", platformText(latency.platform)],
      ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
    ),
    stages.length
      ? sortableTable(
          [
            { key: "name", label: "Stage", value: (p) => p.name },
            { key: "p50", label: "p50 per batch", value: (p) => `${num(p.p50_ms, 3)} ms`, sort: (p) => p.p50_ms, num: true },
            { key: "p95", label: "p95 per batch", value: (p) => `${num(p.p95_ms, 3)} ms`, sort: (p) => p.p95_ms, num: true },
          ],
          stages,
          { caption: "Each stage of a prediction, timed apart" },
        )
      : null,
  );
}

/** latency.json's name for the search alone at one index setting (modellab.tasks.INDEX_PART). */
const INDEX_PART = "index ";

/**
 * A retriever's approximate index, setting by setting (ranking.json's index_sweep): recall
 * against exact search and the primary metric with their intervals, the change against the
 * deployed setting, and the search time from latency.json with the recall-latency plot.
 */
function indexSweepSection(sweep, latency, run) {
  const timed = new Map((latency?.parts ?? []).map((p) => [p.name, p]));
  const rows = sweep.map((p) => ({ ...p, time: timed.get(INDEX_PART + p.label) }));
  const interval = (v, lo, hi) => (v === null ? "n/a" : `${num(v, 3)} [${num(lo, 3)}, ${num(hi, 3)}]`);
  const { k, metric } = sweep[0];
  return h(
    "div",
    { id: "index-sweep" },
    h("p", { class: "muted" }, `Each setting searches the same document embeddings. Recall@${k} against exact search is the share of the exact top ${k} the index returns; the deployed settings are what the run's metrics come from. Search times are this machine's (latency.json), for ${latency?.batch_size ?? "?"} ${latency?.batch_unit ?? "queries"} at a time.`),
    sortableTable(
      [
        { key: "label", label: "Index setting", value: (r) => `${r.label}${r.deployed ? " (deployed)" : ""}`, sort: (r) => `${r.family} ${r.parameter} ${String(r.value).padStart(6, "0")}` },
        { key: "recall", label: `Recall@${k} vs exact (95% CI)`, value: (r) => interval(r.recall_vs_exact, r.recall_ci_low, r.recall_ci_high), sort: (r) => r.recall_vs_exact, num: true },
        { key: "metric", label: `${metric} (95% CI)`, value: (r) => interval(r.metric_value, r.metric_ci_low, r.metric_ci_high), sort: (r) => r.metric_value, num: true },
        { key: "degradation", label: "Change vs deployed", value: (r) => (r.degradation === null ? "n/a" : `${r.degradation > 0 ? "+" : ""}${num(r.degradation, 4)}`), sort: (r) => r.degradation, num: true },
        { key: "p50", label: "Search p50", value: (r) => (r.time ? `${num(r.time.p50_ms, 3)} ms` : "not timed"), sort: (r) => r.time?.p50_ms, num: true },
      ],
      rows,
      { caption: "Approximate index settings: recall, quality and search time", initial: { key: "label", ascending: true } },
    ),
    latency?.tradeoff_plot
      ? h("div", { class: "plots" }, plotFigure(`/api/runs/${seg(run.id)}/artifacts/${seg(latency.tradeoff_plot)}`, latency.tradeoff_plot, `of ${run.model}`))
      : null,
  );
}

export function leakBanner(suspects, run) {
  if (!suspects.length) return null;
  return h(
    "div",
    { class: "banner warn", role: "alert" },
    h("strong", {}, suspects.length === 1 ? "Possible target leak" : "Possible target leaks"),
    h("ul", {}, suspects.map((s) => h("li", {}, `Column ${JSON.stringify(s.column)}: ${s.evidence}`))),
    h(
      "p",
      {},
      "A score that rests on such a column says nothing about new data. Check that it is known at prediction time, or ",
      h("a", { href: `#/p/${seg(run.project)}/new-run` }, "train again without it"),
      ` (modellab run ... ${suspects.map((s) => `--exclude ${s.column}`).join(" ")}).`,
    ),
  );
}

/** The report's other warnings (leak suspects have their banner): e.g. low cardinality. */
function reportWarnings(warnings) {
  const shown = warnings.filter((w) => !w.startsWith("leak_suspect:"));
  if (!shown.length) return null;
  return h(
    "div",
    { class: "card", role: "note" },
    h("h2", {}, "Evaluation notes"),
    h("ul", {}, shown.map((w) => {
      const at = w.indexOf(": ");
      return h("li", {}, at > 0 ? [h("strong", {}, w.slice(0, at)), w.slice(at)] : w);
    })),
  );
}

export async function runPage(ctx) {
  const [id] = ctx.params;
  let run;
  [run] = await Promise.all([get(`/api/runs/${seg(id)}`), descriptions().then(useDescriptions)]);
  const statusBox = h("p", { "aria-live": "polite" });
  const cancelBox = h("p");
  const cancelError = h("p", { class: "error", role: "alert" });
  const drawStatus = () => {
    const waiting = run.status === "queued" && run.waits_on ? [" — waits on its ", h("a", { href: `#/runs/${seg(run.waits_on)}` }, "baseline run"), " to succeed"] : "";
    replace(statusBox, status(run.status), run.status_reason ? ` — ${run.status_reason}` : "", waiting);
    replace(
      cancelBox,
      FINAL.has(run.status)
        ? null
        : cancelButton(run, cancelError, async (ended) => {
            run = ended;
            drawStatus();
            tick();
            if (FINAL.has(run.status)) await drawReport();
          }),
    );
  };
  // Not in the live region: a screen reader should hear status changes, not every second.
  const elapsed = h("p", { class: "muted" });
  const tick = () => {
    const since = run.started_at ?? run.created_at;
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
    const took = run.finished_at ? Math.round((Date.parse(run.finished_at) - Date.parse(since)) / 1000) : null;
    replace(
      elapsed,
      FINAL.has(run.status)
        ? took !== null ? `Took ${took} s.` : ""
        : `${run.status === "queued" ? "Queued" : "Running"} for ${seconds} s; this page updates by itself.`,
    );
  };
  tick();
  drawStatus();
  if (!FINAL.has(run.status)) ctx.every(1000, tick);
  const reportBox = h("div");
  const drawReport = async () => {
    if (run.status !== "succeeded") {
      replace(reportBox, h("p", { class: "muted" }, FINAL.has(run.status) ? "This run has no report." : "The report appears when the run succeeds."));
      return;
    }
    let report;
    try {
      report = await get(`/api/runs/${seg(run.id)}/eval`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        replace(reportBox, h("p", { class: "muted" }, "This run has no eval report."));
        return;
      }
      throw e;
    }
    const files = report.files;
    const slicesJson = files["slices.json"] ?? { slices: [], metric: "" };
    const examples = files["failure_examples.json"]?.examples ?? [];
    const failuresBox = h("div", {}, failureTable(examples, null));
    // The picked slice is in the URL (#/runs/ID?slice=...), to share or come back to.
    const remember = (slice) =>
      history.replaceState(null, "", `#/runs/${seg(run.id)}${slice ? `?slice=${encodeURIComponent(slice.id)}` : ""}`);
    const showAll = () => {
      remember(null);
      replace(failuresBox, failureTable(examples, null));
    };
    const pickSlice = (slice, scroll = true) => {
      remember(slice);
      replace(
        failuresBox,
        h("p", {}, `Failures in slice ${slice.id} (${slice.definition}): `, h("button", { type: "button", class: "secondary", onclick: showAll }, "show all")),
        failureTable(examples, slice),
      );
      if (scroll) failuresBox.scrollIntoView({ block: "nearest" });
    };
    const linked = slicesJson.slices.find((s) => s.id === ctx.query.get("slice"));
    if (linked) pickSlice(linked, false);
    const counts = files["failure_examples.json"]?.category_counts ?? {};
    replace(
      reportBox,
      leakBanner(files["eval_summary.json"]?.leak_suspects ?? [], run),
      reportWarnings(files["eval_summary.json"]?.warnings ?? []),
      h("h2", {}, "Takeaway"),
      h("p", {}, readable(report.takeaway)),
      h("h2", {}, "Metrics"),
      metricsTable(files, run.role),
      h("h2", {}, "Inference latency"),
      latencySection(report.latency),
      h("h2", {}, "Plots"),
      h(
        "div",
        { class: "plots" },
        report.plots.map((plot) => plotFigure(`/api/runs/${seg(run.id)}/artifacts/${plot.split("/").map(seg).join("/")}`, plot, `of ${run.model}`)),
      ),
      h("h2", {}, "Slices"),
      h(
        "p",
        { class: "muted" },
        `Parts of the test set, weakest first: ranked by how much worse their ${slicesJson.metric} is than the whole test set's, in the metric's own direction (for an error such as MAE a larger delta is worse).`,
        slicesJson.min_slice_size ? ` Slices under ${slicesJson.min_slice_size} rows are too small to measure and are not ranked.` : "",
        " Pick a slice to see its failure examples; the count says how many it has.",
      ),
      slicesTable(slicesJson.slices, slicesJson.metric, slicesJson.ranking, examples, pickSlice),
      Object.keys(slicesJson.families ?? {}).length
        ? h(
            "details",
            { id: "slice-families" },
            h("summary", {}, "How the slices are cut"),
            h("ul", {}, Object.entries(slicesJson.families).map(([name, says]) => h("li", {}, h("strong", {}, name), `: ${says}`))),
          )
        : null,
      h("h2", {}, "Failure examples"),
      h("p", { class: "muted" }, "Test rows worth a look: wrong predictions the model was sure of, and right ones it was unsure of. Each is tagged with a failure mode."),
      h(
        "ul",
        {},
        Object.entries(counts).map(([k, v]) => h("li", {}, h("strong", {}, `${failureMode(k)[0]}: ${v}`), failureMode(k)[1] ? ` — ${failureMode(k)[1]}` : "")),
      ),
      failuresBox,
      h("h2", {}, "Stress tests"),
      stressTable(files["stress.json"]),
      files["ranking.json"]?.index_sweep?.length
        ? [h("h2", {}, "Index sweep"), indexSweepSection(files["ranking.json"].index_sweep, report.latency, run)]
        : null,
      files["ranking.json"] ? [h("h2", {}, "Queries"), rankingSection(files["ranking.json"], files["eval_summary.json"]?.primary_metric)] : null,
    );
  };

  const reproduce = `modellab repro export ${run.id} -o run.tar.gz && modellab reproduce run.tar.gz`;
  const code = run.code_version ?? {};
  const notes = notesList(run.notes);
  const provenance = h(
    "div",
    { class: "grid" },
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Provenance"),
      h("p", { class: "muted" }, "What this run used: enough to tell whether another run is like-for-like."),
      h(
        "dl",
        {},
        [
          ["Run", run.id],
          ["Template", `${run.template} · ${run.model} (${run.role})`],
          ["Seed", run.seed],
          ["Dataset checksum", run.dataset_checksum],
          ["Split checksum", run.split_checksum],
          ["Commit", `${code.git_commit ?? "—"}${code.git_dirty ? " (dirty)" : ""}`],
          ["ModelLab", code.modellab_version ?? "—"],
          ["Python", `${run.environment?.python ?? "—"} (${run.environment?.implementation ?? "?"})`],
          ["Platform", run.environment?.platform ?? "—"],
          ["Packages", Object.entries(run.environment?.key_packages ?? {}).map(([k, v]) => `${k} ${v ?? "—"}`).join(", ") || "—"],
          ["uv.lock sha256", run.environment?.uv_lock_sha256 ?? "none found"],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
      ),
    ),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Config"),
      h("pre", {}, JSON.stringify(run.config, null, 2)),
      // Columns left out and changed rule thresholds decide results as much as the config.
      h("h3", {}, "Run options"),
      h("pre", { id: "run-options" }, JSON.stringify(run.options ?? {}, null, 2)),
    ),
  );
  const reproduceBox = [
    h("h2", {}, "Reproduce"),
    h("p", {}, h("code", {}, reproduce), " ", copyButton(reproduce)),
    h("p", {}, h("a", { href: `/api/runs/${seg(run.id)}/repro` }, "Download the reproducibility pack")),
  ];
  const log = [h("h2", {}, "Log"), logTail(ctx, run)];
  // Metrics logged step by step (a tracked run's loss curve), one chart each.
  const historiesBox = h("div");
  const drawHistories = async () => {
    const charts = await historyCharts([{ id: run.id, label: run.model }]);
    replace(historiesBox, charts ? [h("h2", {}, "Metric histories"), charts] : null);
  };
  replace(
    ctx.main,
    h("p", {}, h("a", { href: `#/p/${seg(run.project)}` }, `← ${run.project}`)),
    h("h1", {}, `${run.model} on ${run.environment?.dataset ?? run.dataset_version_id}`),
    statusBox,
    elapsed,
    cancelBox,
    cancelError,
    h("p", {}, h("a", { href: `#/compare?b=${seg(run.id)}` }, "Compare with another run")),
    // While a run trains its log matters most; once it ends, its report does.
    FINAL.has(run.status) ? null : log,
    historiesBox,
    reportBox,
    provenance,
    reproduceBox,
    FINAL.has(run.status) ? log : null,
    h("h2", {}, "Notes"),
    notes,
    noteForm(run.id, notes, { label: "Add a note: what you tried, what you learned", button: "Add note" }),
  );
  await Promise.all([drawReport(), drawHistories()]);
  if (!FINAL.has(run.status)) {
    ctx.every(2000, async () => {
      const fresh = await get(`/api/runs/${seg(run.id)}`);
      if (fresh.status !== run.status || fresh.status_reason !== run.status_reason) {
        run = fresh;
        drawStatus();
        tick();
        if (FINAL.has(run.status)) await Promise.all([drawReport(), drawHistories()]);
      }
    });
  }
}
