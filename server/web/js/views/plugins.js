import { get } from "../api.js";
import { h, replace } from "../dom.js";

/** Installed task plugins and what each registers. */
export async function pluginsPage({ main }) {
  const { plugins, templates } = await get("/api/plugins");
  replace(
    main,
    h("h1", {}, "Plugins"),
    plugins.length
      ? h(
          "ul",
          {},
          plugins.map((p) => {
            const kinds = [
              ["task_types", "task types"],
              ["templates", "templates"],
              ["variants", "models for other templates"],
              ["evaluators", "evaluators"],
              ["slicers", "slicers"],
            ];
            const parts = kinds.filter(([k]) => p[k]?.length).map(([k, label]) => `${label}: ${p[k].join(", ")}`);
            return h(
              "li",
              {},
              h("strong", {}, p.name),
              ` — ${p.distribution ?? ""} ${p.version ?? ""} · `,
              parts.length ? parts.join("; ") : h("span", { class: "muted" }, "registers nothing yet"),
            );
          }),
        )
      : h("p", { class: "muted" }, "No plugins installed (entry-point group \u201cmodellab\u201d)."),
    h("h2", {}, "Templates"),
    templates.map((t) =>
      h(
        "div",
        { class: "card" },
        h("h3", {}, `${t.name} (${t.task_type})`),
        h("p", { class: "muted" }, t.description),
        h(
          "ul",
          {},
          t.models.map((m) =>
            h("li", {}, h("strong", {}, m.name), ` [${m.role}${m.name === t.reference_baseline ? ", the reference baseline" : ""}] `, m.description),
          ),
        ),
      ),
    ),
  );
}
