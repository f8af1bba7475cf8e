import { get, upload } from "../api.js";
import { deltaSpan, estimate, FINAL, h, replace, reporting, seg, sortableTable, status } from "../dom.js";
import { membersBox } from "./members.js";

function headline(run) {
  const primary = run.metrics?.primary_metric;
  return primary ? `${primary} ${estimate(run.metrics.headline?.[primary])}` : "—";
}

const headlineValue = (run) => metricValue(run, run.metrics?.primary_metric);

/** The runs table: sortable, with a box per run to pick two for a comparison. */
export function runsTable(runs, refs, metric, onCompare) {
  const picked = new Set();
  const compareButton = h("button", { type: "button", class: "secondary", disabled: true }, "Compare selected");
  const hint = h("span", { class: "muted" }, "Tick two runs to compare them.");
  // A is "before": the baseline if one is picked, else the older run.
  const before = (r) => [r.role === "baseline" ? 0 : 1, r.created_at, r.id].join("|");
  compareButton.addEventListener("click", () =>
    onCompare(runs.filter((r) => picked.has(r.id)).sort((x, y) => (before(x) < before(y) ? -1 : 1)).map((r) => r.id)),
  );
  const columns = [
    {
      key: "pick",
      label: "Pick",
      value: () => "",
      cell: (r) =>
        h("input", {
          type: "checkbox",
          "aria-label": `pick run ${r.id.slice(0, 13)} to compare`,
          onchange: (e) => {
            if (e.target.checked) picked.add(r.id);
            else picked.delete(r.id);
            compareButton.disabled = picked.size !== 2;
            replace(hint, picked.size === 2 ? "" : picked.size > 2 ? "Tick exactly two runs." : "Tick two runs to compare them.");
          },
        }),
    },
    { key: "id", label: "Run", value: (r) => r.id, cell: (r) => h("a", { href: `#/runs/${seg(r.id)}` }, r.id.slice(0, 13)) },
    { key: "status", label: "Status", value: (r) => r.status, cell: (r) => status(r.status) },
    { key: "template", label: "Template", value: (r) => r.template },
    { key: "model", label: "Model", value: (r) => r.model },
    { key: "role", label: "Role", value: (r) => r.role },
    { key: "dataset", label: "Dataset", value: (r) => refs[r.dataset_version_id] ?? r.environment?.dataset ?? r.dataset_version_id },
    metric
      ? { key: "metric", label: metric, value: (r) => (metricValue(r, metric) === null ? "—" : Number(metricValue(r, metric)).toFixed(4)), sort: (r) => metricValue(r, metric), num: true }
      : { key: "metric", label: "Headline (95% CI)", value: headline, sort: headlineValue, num: true },
    { key: "created", label: "Created (UTC)", value: (r) => r.created_at.slice(0, 19).replace("T", " ") },
  ];
  return h(
    "div",
    {},
    sortableTable(columns, runs, { caption: "Runs of this project, newest first", initial: { key: "created", ascending: false } }),
    h("p", { class: "row" }, compareButton, hint),
  );
}

const PAGE = 50;
/** The runs listing's filters, in the API's names; they live in the page's URL. */
const FILTERS = ["status", "template", "model", "dataset_version", "metric", "metric_min", "metric_max"];

/** A run's value of metric: a trained run's headline value, or a tracked run's latest. */
const metricValue = (run, name) => run.metrics?.headline?.[name]?.value ?? run.metrics?.latest?.[name] ?? null;

/** The filter bar: choices come from the API's facets, so they cover every run. */
function filterBar(facets, refs, filters, onChange) {
  const choices = (key, label, values, name = (v) => v) =>
    h(
      "label",
      { for: `filter-${key}` },
      label,
      h(
        "select",
        { id: `filter-${key}`, onchange: (e) => onChange({ [key]: e.target.value }) },
        h("option", { value: "" }, "all"),
        values.map((v) => h("option", { value: v, selected: filters[key] === v }, name(v))),
      ),
    );
  const bound = (key, label) =>
    h(
      "label",
      { for: `filter-${key}` },
      label,
      h("input", {
        id: `filter-${key}`,
        type: "number",
        step: "any",
        value: filters[key] ?? "",
        disabled: !filters.metric,
        title: filters.metric ? null : "pick a metric first",
        onchange: (e) => onChange({ [key]: e.target.value }),
      }),
    );
  return h(
    "div",
    { class: "row", role: "group", "aria-label": "Filter runs" },
    choices("status", "Status", facets.statuses),
    choices("template", "Template", facets.templates),
    choices("model", "Model", facets.models),
    choices("dataset_version", "Dataset version", facets.dataset_versions, (id) => refs[id] ?? id),
    choices("metric", "Metric", facets.metrics),
    bound("metric_min", "at least"),
    bound("metric_max", "at most"),
  );
}

/** The runs table, searched on the server: filters from the URL, pages of 50, live. */
function runsSection(ctx, slug, refs) {
  const box = h("div", { "aria-live": "polite", "aria-busy": "true" });
  const filters = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) ?? ""]));
  let runs = [];
  let next = null;
  let facets = { statuses: [], templates: [], models: [], dataset_versions: [], metrics: [] };
  const query = (extra) => {
    const q = new URLSearchParams();
    for (const k of FILTERS) if (filters[k] !== "" && (filters.metric || !k.startsWith("metric_"))) q.set(k, filters[k]);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q;
  };
  const fetchRuns = (extra) => get(`/api/projects/${seg(slug)}/runs?${query(extra)}`);
  const draw = () => {
    const anyFilter = FILTERS.some((k) => filters[k] !== "");
    const picked = filters.metric;
    const table = runsTable(runs, refs, picked, ([a, b]) => (location.hash = `#/compare?a=${seg(a)}&b=${seg(b)}`));
    const more = h("button", { type: "button", class: "secondary", onclick: reporting(said, loadMore) }, `Load ${PAGE} more`);
    replace(
      box,
      runs.length || anyFilter ? filterBar(facets, refs, filters, change) : null,
      runs.length
        ? [
            table,
            h(
              "p",
              { class: "row" },
              h("span", { class: "muted" }, next ? `The newest ${runs.length} matching runs.` : `${runs.length} ${runs.length === 1 ? "run" : "runs"}${anyFilter ? " match" : ""}.`, " Sorting orders the runs shown; filters search them all."),
              next ? more : null,
            ),
          ]
        : h(
            "p",
            { class: "muted" },
            anyFilter
              ? "No run matches these filters."
              : Object.keys(refs).length
                ? ["No runs yet. ", h("a", { href: `#/p/${seg(slug)}/new-run` }, "Start one"), "."]
                : "No runs yet: upload a dataset first, then train on it.",
          ),
      said,
    );
    box.setAttribute("aria-busy", "false");
  };
  const said = h("p", { class: "field-error", role: "alert" });
  // A poll that started before the filters changed must not overwrite what they found.
  let generation = 0;
  const load = async (count) => {
    const mine = ++generation;
    const page = await fetchRuns({ limit: Math.min(Math.max(count, PAGE), 1000) });
    if (mine !== generation) return;
    runs = page.items;
    next = page.next_cursor;
  };
  const loadMore = async () => {
    const mine = ++generation;
    const page = await fetchRuns({ limit: PAGE, cursor: next });
    if (mine !== generation) return;
    runs = [...runs, ...page.items];
    next = page.next_cursor;
    draw();
  };
  const change = async (update) => {
    Object.assign(filters, update);
    const q = query({});
    // The URL keeps the filters, to share or to come back to; no new history entry each.
    history.replaceState(null, "", `#/p/${seg(slug)}${q.size ? `?${q}` : ""}`);
    box.setAttribute("aria-busy", "true");
    try {
      await load(PAGE);
      draw();
    } catch (e) {
      replace(said, e.message);
    }
  };
  // The filter choices are a convenience: without them the runs still show.
  const loadFacets = () => get(`/api/projects/${seg(slug)}/runs/facets`).then((f) => (facets = f), () => {});
  const refresh = async () => {
    const before = JSON.stringify(runs.map((r) => [r.id, r.status]));
    await Promise.all([loadFacets(), load(runs.length)]);
    if (JSON.stringify(runs.map((r) => [r.id, r.status])) !== before) draw();
  };
  let tick = 0;
  // Unfinished runs are watched every 2 s; otherwise new runs show up within 10 s.
  ctx.every(2000, () => {
    tick += 1;
    if (runs.some((r) => !FINAL.has(r.status)) || tick % 5 === 0) refresh().catch((e) => replace(said, e.message));
  });
  const start = async () => {
    await Promise.all([loadFacets(), load(PAGE)]);
    draw();
  };
  return { box, start };
}

/**
 * The records of CSV text split by `delimiter`, as the server's csv module reads them:
 * a quote opens a quoted field only at the start of a field, `""` inside one is a quote,
 * line breaks inside quotes belong to the field, and blank lines are skipped.
 */
function csvRecords(text, delimiter, limit = Infinity) {
  const records = [];
  let record = [];
  let field = "";
  let state = "start"; // start | field | quoted | quote (a quote seen inside quotes)
  const endRecord = () => {
    if (state !== "start" || record.length) {
      record.push(field);
      records.push(record);
    }
    record = [];
    field = "";
    state = "start";
  };
  for (let i = 0; i < text.length && records.length < limit; i += 1) {
    const c = text[i];
    if (state === "quoted") {
      if (c === '"') state = "quote";
      else field += c;
    } else if (state === "quote" && c === '"') {
      field += '"';
      state = "quoted";
    } else if (c === delimiter) {
      record.push(field);
      field = "";
      state = "start";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      endRecord();
    } else if (state === "start" && c === '"') state = "quoted";
    else {
      field += c;
      state = "field";
    }
  }
  if (records.length < limit) endRecord();
  return records;
}

/** The delimiters detected, in the order that breaks a tie (as on the server). */
export const DELIMITERS = [",", ";", "\t", "|"];
const SNIFF_BYTES = 65536;
const SNIFF_RECORDS = 50;

/**
 * The delimiter of a CSV sample, by the server's rule: the first of comma, semicolon,
 * tab and pipe that splits every sampled record into the same number of fields, more
 * than one; else the one that splits the header into the most fields; else a comma.
 * A `truncated` sample's last record is ignored.
 */
export function detectDelimiter(text, truncated = false) {
  const sample = text.replace(/^\uFEFF/, "");
  let best = ",";
  let bestFields = 1;
  for (const delimiter of DELIMITERS) {
    let counts = csvRecords(sample, delimiter, SNIFF_RECORDS + 1).map((r) => r.length);
    if (counts.length > SNIFF_RECORDS) counts = counts.slice(0, SNIFF_RECORDS);
    else if (truncated && counts.length > 1) counts.pop();
    if (!counts.length) continue;
    if (counts[0] > 1 && counts.every((n) => n === counts[0])) return delimiter;
    if (counts[0] > bestFields) [best, bestFields] = [delimiter, counts[0]];
  }
  return best;
}

/** The column names on the header row of a CSV or TSV (quotes as RFC 4180 has them). */
export function headerColumns(text, separator) {
  return csvRecords(text.replace(/^\uFEFF/, ""), separator, 1)[0] ?? [];
}

const MAGIC = [
  ["a PNG image", [0x89, 0x50, 0x4e, 0x47]],
  ["a ZIP archive (an .xlsx workbook is one)", [0x50, 0x4b, 0x03, 0x04]],
  ["a ZIP archive", [0x50, 0x4b, 0x05, 0x06]],
  ["a gzip archive", [0x1f, 0x8b]],
  ["a PDF document", [0x25, 0x50, 0x44, 0x46]],
];

/** Why the first bytes of the file `name` are not CSV text, or null when they may be. */
export function binaryReason(bytes, name) {
  const magic = MAGIC.find(([, m]) => m.every((b, i) => bytes[i] === b));
  if (magic) return `${name} is not a CSV text file: it starts like ${magic[0]}. Pick the CSV, TSV or Parquet file itself.`;
  const nul = bytes.indexOf(0);
  if (nul >= 0) return `${name} is not a CSV text file: NUL byte at byte offset ${nul} (a binary file, or text saved as UTF-16; save it as UTF-8 CSV).`;
  try {
    // Streaming: a character cut by the end of the sample is not an error.
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return `${name} is not valid UTF-8 text (the encoding the server assumes) in its first ${bytes.length} bytes: re-save it as UTF-8 CSV.`;
  }
  return null;
}

const isParquet = (name, bytes) => /\.parquet$/i.test(name) || [0x50, 0x41, 0x52, 0x31].every((b, i) => bytes[i] === b);

function uploadForm(slug) {
  const file = h("input", { id: "dataset-file", type: "file", accept: ".csv,.tsv,.parquet", required: true, "aria-describedby": "dataset-error" });
  const name = h("input", { id: "dataset-name", required: true });
  // The target is picked from the file's own header when it can be read here (CSV, TSV);
  // for Parquet it is typed.
  const typed = h("input", { id: "dataset-target", required: true });
  const picked = h("select", { id: "dataset-target", required: true });
  const targetBox = h("span", { class: "stack" }, typed);
  let target = typed;
  // Columns left out of the features (upload field "exclude"), recorded in the schema.
  const exclude = h("input", { id: "dataset-exclude", placeholder: "e.g. id, hours_worked" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const stage = h("span", { class: "muted", role: "status" });
  const error = h("p", { class: "field-error", id: "dataset-error", role: "alert" });
  const button = h("button", { type: "submit" }, "Upload");
  // The name follows the file until the user types one.
  let named = false;
  name.addEventListener("input", () => (named = name.value !== ""));
  // A file whose first bytes are not CSV text is refused here, before any header is offered.
  let refused = null;
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    refused = null;
    replace(error);
    file.removeAttribute("aria-invalid");
    if (!chosen) return;
    if (!named) name.value = chosen.name.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9._-]+/g, "-");
    const bytes = new Uint8Array(await chosen.slice(0, SNIFF_BYTES).arrayBuffer());
    let columns = [];
    // Parquet is binary on purpose: its header is not read here, its target is typed.
    if (/\.(csv|tsv)$/i.test(chosen.name) && !isParquet(chosen.name, bytes)) {
      refused = binaryReason(bytes, chosen.name);
      if (refused) {
        replace(error, refused);
        file.setAttribute("aria-invalid", "true");
      } else {
        const text = new TextDecoder().decode(bytes, { stream: true });
        const separator = /\.tsv$/i.test(chosen.name) ? "\t" : detectDelimiter(text, chosen.size > bytes.length);
        columns = headerColumns(text, separator).filter((c) => c.trim());
      }
    }
    if (columns.length) {
      replace(picked, h("option", { value: "" }, "choose the column to predict"), columns.map((c) => h("option", { value: c }, c)));
      target = picked;
    } else {
      target = typed;
    }
    replace(targetBox, target);
  });
  return h(
    "form",
    {
      class: "stack",
      onsubmit: reporting(error, async () => {
        if (file.files[0]?.size === 0) throw new Error(`${file.files[0].name} is empty: pick a file with a header row and data.`);
        if (refused) throw new Error(refused);
        const form = new FormData();
        form.append("file", file.files[0]);
        form.append("name", name.value);
        form.append("target", target.value);
        if (exclude.value.trim()) form.append("exclude", exclude.value);
        progress.hidden = false;
        button.disabled = true;
        try {
          const version = await upload(`/api/projects/${seg(slug)}/datasets`, form, (f) => {
            progress.value = f;
            replace(stage, f < 1 ? `Uploading: ${Math.round(100 * f)}%` : "Uploaded; the server is checking, profiling and splitting it…");
          });
          location.hash = `#/p/${seg(slug)}/datasets/${seg(version.name)}`;
        } finally {
          progress.hidden = true;
          replace(stage);
          button.disabled = false;
        }
      }),
    },
    h("label", { for: "dataset-file" }, "CSV, TSV or Parquet file", h("span", { class: "hint" }, "one row per example, a header row with column names"), file),
    error,
    h("label", { for: "dataset-name" }, "Dataset name", name),
    h("label", { for: "dataset-target" }, "Target column", h("span", { class: "hint" }, "what the models learn to predict"), targetBox),
    h("label", { for: "dataset-exclude" }, "Leave out columns", h("span", { class: "hint" }, "comma-separated; never used as features (optional)"), exclude),
    progress,
    stage,
    button,
  );
}

/** The better of two runs by their primary metric (null when they cannot be ranked). */
function better(a, b) {
  const name = a.metrics.primary_metric;
  const higher = a.metrics.higher_is_better?.[name];
  if (higher === undefined || name !== b.metrics.primary_metric) return null;
  return (metricValue(a, name) > metricValue(b, name)) === higher ? a : b;
}

/**
 * The baseline run a candidate's report was computed against, the one its deltas (and the
 * run and compare pages) are about. The report names it (`metrics.baseline.run_id`): the
 * baseline's run key, or a run id for a run logged through the API. Runs that share a run
 * key computed the same predictions; the newest one created before the candidate is the one
 * it was judged against. Null when the report has no baseline or that run is not listed.
 */
function reportedBaseline(candidate, runs) {
  const named = candidate.metrics.baseline?.run_id;
  if (!named) return null;
  const byId = runs.find((r) => r.id === named);
  if (byId) return byId;
  const sameKey = runs.filter((r) => r.role === "baseline" && r.run_key === named);
  return sameKey.find((r) => r.created_at <= candidate.created_at) ?? sameKey[0] ?? null;
}

/** The best finished candidate (by its primary metric, per dataset version) against its baseline. */
function bestAgainstBaseline(slug, runs, refs) {
  const done = runs.filter((r) => r.status === "succeeded" && r.metrics?.primary_metric);
  const candidates = done.filter((r) => r.role === "candidate");
  if (!done.length) return h("p", { class: "muted" }, "No finished runs yet. Train a baseline first: every candidate is judged against it.");
  if (!candidates.length) return h("p", { class: "muted" }, "Only baselines so far. ", h("a", { href: `#/p/${seg(slug)}/new-run` }, "Train a candidate"), " to see whether it beats them.");
  // Newest first: the newest dataset version's candidates are the ones that matter now.
  const version = candidates[0].dataset_version_id;
  let best = null;
  let ranked = true;
  for (const run of candidates.filter((r) => r.dataset_version_id === version && r.template === candidates[0].template)) {
    if (!best) best = run;
    else {
      const winner = better(run, best);
      if (winner === null) ranked = false;
      else best = winner;
    }
  }
  const primary = best.metrics.primary_metric;
  const named = best.metrics.baseline;
  const baseline = reportedBaseline(best, done);
  const delta = named?.deltas?.[primary];
  const link = (run) => h("a", { href: `#/runs/${seg(run.id)}` }, `${run.model} (${run.id.slice(0, 13)})`);
  return h(
    "div",
    { class: "card" },
    h("p", {}, `${ranked ? "Best" : "Newest"} candidate on ${refs[version] ?? version}: `, link(best), ` — ${primary} ${estimate(best.metrics.headline?.[primary])}`),
    (best.metrics.leak_suspects ?? []).length
      ? h(
          "p",
          { class: "banner warn", role: "note" },
          `Possible target leak: it uses ${best.metrics.leak_suspects.map((s) => JSON.stringify(s.column)).join(", ")}, which alone predicts the target. Its score is no evidence until the column is checked or left out.`,
        )
      : null,
    baseline
      ? h("p", {}, "Its baseline: ", link(baseline), ` — ${primary} ${estimate(baseline.metrics.headline?.[primary])}`)
      : named
        ? h("p", {}, `Its baseline: ${named.name} (not among the newest finished runs listed here).`)
        : h("p", { class: "warn" }, "No baseline on this dataset version: the candidate's numbers cannot be judged."),
    delta
      ? h(
          "p",
          {},
          "Difference: ",
          deltaSpan(delta, best.metrics.higher_is_better?.[primary], { sayDirection: true }),
        )
      : null,
    baseline ? h("p", {}, h("a", { href: `#/compare?a=${seg(baseline.id)}&b=${seg(best.id)}` }, "Compare the two")) : null,
    h("p", { class: "muted" }, "Brackets are 95% bootstrap confidence intervals."),
  );
}

/** What to do next in this project, for someone new to it. */
function nextStep(slug, datasets, succeeded) {
  const say = (...parts) => h("p", { class: "card next", role: "note" }, h("strong", {}, "Next: "), ...parts);
  if (!datasets.length) return say("upload a dataset (below) and pick the column to predict.");
  const newRun = (text) => h("a", { href: `#/p/${seg(slug)}/new-run` }, text);
  if (!succeeded.some((r) => r.role === "baseline")) return say(newRun("train a baseline"), ": the bar every candidate model must clear.");
  if (!succeeded.some((r) => r.role === "candidate")) return say(newRun("train a candidate model"), " and see whether it beats the baseline.");
  return null;
}

/** A project: datasets, the best candidate against its baseline, and live runs. */
export async function projectPage(ctx) {
  const [slug] = ctx.params;
  // The project first: a missing one then costs one refused request, not two.
  const project = await get(`/api/projects/${seg(slug)}`);
  const [datasets, succeeded] = await Promise.all([
    get(`/api/projects/${seg(slug)}/datasets`),
    get(`/api/projects/${seg(slug)}/runs?status=succeeded&limit=200`),
  ]);
  const refs = Object.fromEntries(datasets.map((d) => [d.id, `${d.name}@${d.version}`]));
  const runs = runsSection(ctx, slug, refs);
  await runs.start();
  replace(
    ctx.main,
    h("h1", {}, project.name),
    h("p", { class: "muted" }, `Project ${project.slug}`),
    nextStep(slug, datasets, succeeded.items),
    h("h2", {}, "Best candidate against its baseline"),
    bestAgainstBaseline(slug, succeeded.items, refs),
    h("h2", {}, "Datasets"),
    datasets.length
      ? h(
          "ul",
          {},
          datasets.map((d) =>
            h("li", {}, h("a", { href: `#/p/${seg(slug)}/datasets/${seg(d.name)}` }, d.name), ` v${d.version} · ${d.rows} rows · ${d.task} on ${d.target}`),
          ),
        )
      : h("p", { class: "muted" }, "No datasets yet: upload a CSV below."),
    h("details", { open: datasets.length === 0 }, h("summary", {}, "Upload a dataset"), uploadForm(slug)),
    h("h2", {}, "Runs"),
    h("p", {}, h("a", { href: `#/p/${seg(slug)}/new-run` }, "New run"), " · ", h("a", { href: `/api/projects/${seg(slug)}/runs.csv` }, "Download as CSV")),
    runs.box,
    h("h2", {}, "Members"),
    await membersBox(slug),
  );
}
