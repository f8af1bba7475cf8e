import { get, upload } from "../api.js";
import { estimate, h, replace, reporting, seg, sortableTable, status } from "../dom.js";
import { membersBox } from "./members.js";

const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

function headline(run) {
  const primary = run.metrics?.primary_metric;
  return primary ? `${primary} ${estimate(run.metrics.headline?.[primary])}` : "—";
}

function headlineValue(run) {
  const primary = run.metrics?.primary_metric;
  return primary ? run.metrics.headline?.[primary]?.value ?? null : null;
}

/** The runs table: sortable, filterable, refreshed while any run is unfinished. */
export function runsTable(runs, onCompare) {
  const picked = new Set();
  const compareButton = h("button", { type: "button", class: "secondary", disabled: true }, "Compare selected");
  compareButton.addEventListener("click", () => onCompare([...picked]));
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
          },
        }),
    },
    { key: "id", label: "Run", value: (r) => r.id, cell: (r) => h("a", { href: `#/runs/${seg(r.id)}` }, r.id.slice(0, 13)) },
    { key: "status", label: "Status", value: (r) => r.status, cell: (r) => status(r.status) },
    { key: "template", label: "Template", value: (r) => r.template },
    { key: "model", label: "Model", value: (r) => r.model },
    { key: "role", label: "Role", value: (r) => r.role },
    { key: "dataset", label: "Dataset", value: (r) => r.environment?.dataset ?? r.dataset_version_id },
    { key: "metric", label: "Headline (95% CI)", value: headline, sort: headlineValue, num: true },
    { key: "created", label: "Created", value: (r) => r.created_at },
  ];
  return h("div", {}, sortableTable(columns, runs, { initial: { key: "created", ascending: false } }), h("p", {}, compareButton));
}

const metricValue = (run, name) => run.metrics?.headline?.[name]?.value;

/** Filters over the runs, applied in the page; a metric range keeps runs inside it. */
function filtered(runs, filters) {
  const { metric, min, max, ...exact } = filters;
  return runs.filter((r) => {
    const matches = Object.entries(exact).every(
      ([key, value]) => !value || String(key === "dataset" ? r.environment?.dataset : r[key]) === value,
    );
    if (!matches || !metric) return matches;
    const value = metricValue(r, metric);
    if (value === undefined || value === null) return false;
    return (min === "" || min === undefined || value >= Number(min)) && (max === "" || max === undefined || value <= Number(max));
  });
}

function filterBar(runs, filters, onChange) {
  const choices = (key, values) =>
    h(
      "label",
      { for: `filter-${key}` },
      key,
      h(
        "select",
        { id: `filter-${key}`, onchange: (e) => onChange(key, e.target.value) },
        h("option", { value: "" }, "all"),
        [...new Set(values)].sort().map((v) => h("option", { value: v, selected: filters[key] === v }, v)),
      ),
    );
  return h(
    "div",
    { class: "row", role: "group", "aria-label": "Filter runs" },
    choices("status", runs.map((r) => r.status)),
    choices("template", runs.map((r) => r.template)),
    choices("model", runs.map((r) => r.model)),
    choices("dataset", runs.map((r) => String(r.environment?.dataset ?? ""))),
    choices("metric", runs.flatMap((r) => Object.keys(r.metrics?.headline ?? {}))),
    h("label", { for: "filter-min" }, "min", h("input", { id: "filter-min", type: "number", step: "any", value: filters.min ?? "", onchange: (e) => onChange("min", e.target.value) })),
    h("label", { for: "filter-max" }, "max", h("input", { id: "filter-max", type: "number", step: "any", value: filters.max ?? "", onchange: (e) => onChange("max", e.target.value) })),
  );
}

function uploadForm(slug) {
  const file = h("input", { id: "dataset-file", type: "file", accept: ".csv,.tsv,.parquet", required: true, "aria-describedby": "dataset-error" });
  const name = h("input", { id: "dataset-name", required: true });
  const target = h("input", { id: "dataset-target", required: true });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const error = h("p", { class: "field-error", id: "dataset-error", role: "alert" });
  const button = h("button", { type: "submit" }, "Upload");
  return h(
    "form",
    {
      class: "stack",
      onsubmit: reporting(error, async () => {
        const form = new FormData();
        form.append("file", file.files[0]);
        form.append("name", name.value);
        form.append("target", target.value);
        progress.hidden = false;
        button.disabled = true;
        try {
          const version = await upload(`/api/projects/${seg(slug)}/datasets`, form, (f) => (progress.value = f));
          location.hash = `#/p/${seg(slug)}/datasets/${seg(version.name)}`;
        } finally {
          progress.hidden = true;
          button.disabled = false;
        }
      }),
    },
    h("label", { for: "dataset-file" }, "CSV, TSV or Parquet file", file),
    error,
    h("label", { for: "dataset-name" }, "Dataset name", name),
    h("label", { for: "dataset-target" }, "Target column", target),
    progress,
    button,
  );
}

function bestAgainstBaseline(runs) {
  const done = runs.filter((r) => r.status === "succeeded" && r.metrics?.primary_metric);
  const candidate = done.find((r) => r.role === "candidate");
  const baseline = done.find((r) => r.role === "baseline" && (!candidate || r.dataset_version_id === candidate.dataset_version_id));
  if (!candidate && !baseline) return h("p", { class: "muted" }, "No finished runs yet: start a baseline first.");
  const row = (label, run) =>
    run
      ? h("p", {}, `${label}: `, h("a", { href: `#/runs/${seg(run.id)}` }, run.model), ` — ${headline(run)}`)
      : h("p", { class: "muted" }, `${label}: none yet`);
  return h("div", { class: "card" }, row("Newest candidate", candidate), row("Its baseline", baseline));
}

/** A project: datasets, the best candidate against its baseline, and live runs. */
export async function projectPage(ctx) {
  const [slug] = ctx.params;
  // The project first: a missing one then costs one refused request, not two.
  const project = await get(`/api/projects/${seg(slug)}`);
  const datasets = await get(`/api/projects/${seg(slug)}/datasets`);
  const runsBox = h("div", { "aria-live": "polite" });
  const bestBox = h("div");
  const filters = {};
  let runs = [];
  const draw = () => {
    replace(
      runsBox,
      runs.length
        ? [
            filterBar(runs, filters, (key, value) => {
              filters[key] = value;
              draw();
            }),
            runsTable(filtered(runs, filters), ([a, b]) => (location.hash = `#/compare?a=${seg(a)}&b=${seg(b)}`)),
          ]
        : h("p", { class: "muted" }, "No runs yet. ", h("a", { href: `#/p/${seg(slug)}/new-run` }, "Start one"), "."),
    );
    replace(bestBox, bestAgainstBaseline(runs));
  };
  const refresh = async () => {
    const page = await get(`/api/projects/${seg(slug)}/runs?limit=200`);
    const changed = JSON.stringify(page.items.map((r) => [r.id, r.status])) !== JSON.stringify(runs.map((r) => [r.id, r.status]));
    runs = page.items;
    if (changed) draw();
  };
  await refresh();
  draw();
  ctx.every(2000, () => {
    if (runs.some((r) => !FINAL.has(r.status))) refresh().catch(() => {});
  });
  replace(
    ctx.main,
    h("h1", {}, project.name),
    h("p", { class: "muted" }, `Project ${project.slug}`),
    h("h2", {}, "Best candidate against its baseline"),
    bestBox,
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
    runsBox,
    h("h2", {}, "Members"),
    await membersBox(slug),
  );
}
