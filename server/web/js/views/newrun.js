import { get, post } from "../api.js";
import { h, replace, seg } from "../dom.js";
import { runProgress } from "./progress.js";

/** The object schema behind a msgspec JSON Schema (which wraps it in $ref/$defs). */
function objectSchema(schema) {
  const ref = schema.$ref?.split("/").pop();
  return ref ? schema.$defs[ref] : schema;
}

/** One input per config field, typed and bounded by the schema; returns [node, read]. */
function configField(name, spec) {
  const id = `config-${name}`;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const enumValues = spec.enum ?? spec.anyOf?.flatMap((s) => s.enum ?? (s.type === "null" ? [null] : []));
  let input;
  let read;
  if (enumValues?.length) {
    input = h(
      "select",
      { id, "aria-describedby": `${id}-error` },
      enumValues.map((v) => h("option", { value: JSON.stringify(v), selected: v === spec.default }, v === null ? "none" : String(v))),
    );
    read = () => JSON.parse(input.value);
  } else if (spec.type === "boolean") {
    input = h("input", { id, type: "checkbox", checked: Boolean(spec.default) });
    read = () => input.checked;
  } else if (spec.type === "integer" || spec.type === "number") {
    input = h("input", {
      id,
      type: "number",
      step: spec.type === "integer" ? "1" : "any",
      min: spec.minimum ?? spec.exclusiveMinimum,
      max: spec.maximum ?? spec.exclusiveMaximum,
      value: spec.default ?? "",
      "aria-describedby": `${id}-error`,
    });
    read = () => {
      const value = Number(input.value);
      const problems = [];
      if (input.value === "" || Number.isNaN(value)) problems.push("enter a number");
      if (spec.type === "integer" && !Number.isInteger(value)) problems.push("enter a whole number");
      if (spec.minimum !== undefined && value < spec.minimum) problems.push(`at least ${spec.minimum}`);
      if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum) problems.push(`more than ${spec.exclusiveMinimum}`);
      if (spec.maximum !== undefined && value > spec.maximum) problems.push(`at most ${spec.maximum}`);
      replace(error, problems.length ? `${name}: ${problems.join(", ")}` : "");
      if (problems.length) throw new Error(`${name} is not valid`);
      return value;
    };
  } else {
    input = h("input", { id, value: spec.default ?? "" });
    read = () => input.value;
  }
  const low = spec.minimum ?? spec.exclusiveMinimum;
  const high = spec.maximum ?? spec.exclusiveMaximum;
  const range =
    low !== undefined && high !== undefined
      ? `${spec.exclusiveMinimum !== undefined ? "more than" : "from"} ${low} ${spec.exclusiveMaximum !== undefined ? "to under" : "to"} ${high}`
      : low !== undefined
        ? `${spec.exclusiveMinimum !== undefined ? "more than" : "at least"} ${low}`
        : high !== undefined
          ? `at most ${high}`
          : null;
  const hintText = [spec.description, range, spec.default !== undefined ? `default ${spec.default === null ? "none" : spec.default}` : null].filter(Boolean).join(" · ");
  const hint = hintText ? h("span", { class: "hint", id: `${id}-hint` }, hintText) : null;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
  return [h("div", {}, h("label", { for: id }, name, hint, input), error), () => [name, read(), spec.default]];
}

/** Start a run: dataset version, template, model, its config form, seed. */
export async function newRunPage(ctx) {
  const [slug] = ctx.params;
  const [plugins, datasets, runs] = await Promise.all([
    get("/api/plugins"),
    get(`/api/projects/${seg(slug)}/datasets`),
    get(`/api/projects/${seg(slug)}/runs?limit=500`),
  ]);
  if (!datasets.length) {
    replace(ctx.main, h("h1", {}, "New run"), h("p", {}, "This project has no dataset yet. ", h("a", { href: `#/p/${seg(slug)}` }, "Upload one"), " first."));
    return;
  }
  const datasetSelect = h(
    "select",
    { id: "run-dataset" },
    datasets.map((d) => {
      const ref = `${d.name}@${d.version}`;
      return h("option", { value: ref, selected: ctx.query.get("dataset") === ref, "data-task": d.task, "data-id": d.id }, `${ref} (${d.task})`);
    }),
  );
  const templateSelect = h("select", { id: "run-template" });
  const modelSelect = h("select", { id: "run-model" });
  const seed = h("input", { id: "run-seed", type: "number", min: 0, step: 1, value: 0 });
  const configBox = h("fieldset", {}, h("legend", {}, "Config"));
  const hint = h("p", { role: "status" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  let readers = [];

  const selectedDataset = () => datasets.find((d) => `${d.name}@${d.version}` === datasetSelect.value);
  const templates = () => plugins.templates.filter((t) => t.task_type === selectedDataset().task);
  const template = () => plugins.templates.find((t) => t.name === templateSelect.value);
  const model = () => template()?.models.find((m) => m.name === modelSelect.value);
  const hasBaseline = () =>
    runs.items.some((r) => r.role === "baseline" && r.status === "succeeded" && r.dataset_version_id === selectedDataset().id && r.template === templateSelect.value);

  const fillTemplates = () => {
    replace(templateSelect, templates().map((t) => h("option", { value: t.name }, t.name)));
    fillModels();
  };
  const fillModels = () => {
    replace(
      modelSelect,
      (template()?.models ?? []).map((m) =>
        h(
          "option",
          // The reference baseline is the default: the bar to set before anything else.
          { value: m.name, selected: m.name === template().reference_baseline },
          `${m.name} (${m.name === template().reference_baseline ? "reference baseline" : m.role})`,
        ),
      ),
    );
    fillConfig();
    fillColumns();
  };
  // Thresholds of the evaluation's rules (run option "eval"); empty keeps the default.
  const evalInputs = plugins.eval_settings.map((setting) => {
    const input = h("input", {
      id: `run-eval-${setting.name}`,
      type: "number",
      step: "any",
      placeholder: setting.default === null ? "from the data" : `default ${setting.default}`,
    });
    return [h("label", { for: input.id }, setting.name, h("span", { class: "hint" }, setting.description), input), setting.name, input];
  });
  const rulesBox = h(
    "details",
    {},
    h("summary", {}, "Evaluation rules"),
    h("div", { class: "stack" }, evalInputs.map(([node]) => node)),
  );
  // Columns the run leaves out (run option "exclude"): a suspected leak is one tick away.
  const columnsBox = h("fieldset", { class: "stack" });
  let excludeBoxes = [];
  const fillColumns = () => {
    const ds = selectedDataset();
    const suspects = new Set((ds?.profile?.warnings ?? []).filter((w) => w.code === "target_leak").map((w) => w.column));
    // The template's input columns: features, and free text for a text template.
    const roles = new Set(template()?.input_roles ?? ["feature"]);
    const inputs = (ds?.schema ?? []).filter((c) => roles.has(c.role)).map((c) => c.name);
    excludeBoxes = inputs.map((name) => {
      const box = h("input", { type: "checkbox", value: name, checked: suspects.has(name) });
      return [h("label", { class: "row" }, box, name, suspects.has(name) ? h("span", { class: "warn" }, " (possible target leak)") : null), box];
    });
    replace(
      columnsBox,
      h("legend", {}, "Leave out columns"),
      excludeBoxes.length
        ? h("p", { class: "muted" }, "Ticked input columns are left out of this run; columns the dataset flags as possible target leaks start ticked.")
        : h("p", { class: "muted" }, `This dataset version has no column of the roles ${[...roles].join(", ")} that this template trains on.`),
      excludeBoxes.map(([node]) => node),
    );
  };
  const fillConfig = () => {
    const m = model();
    const schema = m ? objectSchema(m.config_schema) : { properties: {} };
    const fields = Object.entries(schema.properties ?? {}).map(([name, spec]) => configField(name, spec));
    readers = fields.map(([, read]) => read);
    replace(configBox, h("legend", {}, "Config"), m?.description ? h("p", { class: "muted" }, m.description) : null, fields.length ? fields.map(([node]) => node) : h("p", { class: "muted" }, "Nothing to tune."));
    const candidate = m?.role === "candidate";
    replace(
      hint,
      candidate && !hasBaseline()
        ? h("span", { class: "warn" }, `No finished baseline on this dataset version yet: without one the candidate's numbers cannot be judged, so ${template().reference_baseline} trains first.`)
        : candidate
          ? h("span", { class: "muted" }, "A finished baseline exists: the candidate is measured against it.")
          : h("span", { class: "muted" }, "Baselines are the bar candidates must clear; train one before any candidate."),
    );
    baselineFirst.checked = candidate && !hasBaseline();
    baselineRow.hidden = !candidate;
    replace(baselineText, `Run the baseline first (${template()?.reference_baseline ?? "the reference baseline"})`);
  };
  const baselineFirst = h("input", { id: "run-baseline-first", type: "checkbox" });
  const baselineText = h("span");
  const baselineRow = h("label", { for: "run-baseline-first", class: "row" }, baselineFirst, baselineText);
  datasetSelect.addEventListener("change", fillTemplates);
  templateSelect.addEventListener("change", fillModels);
  modelSelect.addEventListener("change", fillConfig);

  const submit = h("button", { type: "submit" }, "Start run");
  const form = h(
    "form",
    {
      class: "stack",
      // Our own checks name the field and the rule; the browser's bubbles do neither well.
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        let config;
        try {
          config = Object.fromEntries(
            readers.map((read) => read()).filter(([, value, fallback]) => value !== fallback).map(([name, value]) => [name, value]),
          );
        } catch (e) {
          replace(error, "Fix the config fields marked above.");
          error.hidden = false;
          return;
        }
        const exclude = excludeBoxes.filter(([, box]) => box.checked).map(([, box]) => box.value);
        const rules = Object.fromEntries(evalInputs.filter(([, , input]) => input.value !== "").map(([, name, input]) => [name, Number(input.value)]));
        const body = { project: slug, dataset: datasetSelect.value, template: templateSelect.value, seed: Number(seed.value) || 0, exclude, eval: rules };
        submit.disabled = true;
        try {
          // One request: the service queues the baseline too, and the candidate waits on
          // it there, so closing this page changes nothing.
          const withBaseline = baselineFirst.checked && model()?.role === "candidate";
          const run = await post("/api/runs", { ...body, model: modelSelect.value, config, with_baseline: withBaseline });
          if (!run.waits_on) {
            location.hash = `#/runs/${seg(run.id)}`;
            return;
          }
          const baseline = await get(`/api/runs/${seg(run.waits_on)}`);
          replace(
            progress,
            h("h2", {}, "Queued: the baseline first, then the candidate"),
            h("p", { class: "muted" }, `${run.model} starts when ${baseline.model} has succeeded, and fails with its reason if it does not. Both train on the server: you can leave this page.`),
            runProgress(ctx, [baseline, run]),
          );
          progress.scrollIntoView({ block: "nearest" });
        } catch (e) {
          replace(error, e.message);
          error.hidden = false;
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("label", { for: "run-dataset" }, "Dataset version", datasetSelect),
    h("label", { for: "run-template" }, "Template", templateSelect),
    h("label", { for: "run-model" }, "Model", modelSelect),
    configBox,
    columnsBox,
    rulesBox,
    h("label", { for: "run-seed" }, "Seed", seed),
    baselineRow,
    hint,
    error,
    submit,
  );
  const progress = h("section", { "aria-label": "queued runs" });
  replace(ctx.main, h("p", {}, h("a", { href: `#/p/${seg(slug)}` }, `← ${slug}`)), h("h1", {}, "New run"), form, progress);
  fillTemplates();
}
