import { get, post } from "../api.js";
import { h, replace, reporting, seg } from "../dom.js";

/** All projects the user belongs to, and a form to create one. */
export async function projectsPage({ main }) {
  const projects = await get("/api/projects");
  const error = h("p", { class: "field-error", id: "project-name-error", role: "alert" });
  const name = h("input", { id: "project-name", name: "name", required: true, "aria-describedby": "project-name-error" });
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: reporting(error, async () => {
        const created = await post("/api/projects", { name: name.value });
        location.hash = `#/p/${seg(created.slug)}`;
      }),
    },
    h("label", { for: "project-name" }, "New project name", name),
    error,
    h("button", { type: "submit" }, "Create project"),
  );
  replace(
    main,
    h("h1", {}, "Projects"),
    projects.length
      ? h(
          "ul",
          { class: "projects" },
          projects.map((p) => h("li", {}, h("a", { href: `#/p/${seg(p.slug)}` }, p.name), " ", h("span", { class: "muted" }, p.slug))),
        )
      : h(
          "div",
          { class: "card" },
          h("h2", {}, "Getting started"),
          h(
            "ol",
            {},
            h("li", {}, "Create a project below."),
            h("li", {}, "Upload a CSV to it and pick the column to predict. ModelLab profiles it and splits it into train and test."),
            h("li", {}, "Train a baseline, then a candidate model. Each run gets an evaluation report with confidence intervals, slices and failure examples."),
            h("li", {}, "Tick the two runs and compare them: what improved, what got worse, and whether it is more than noise."),
          ),
          h("p", { class: "muted" }, "Or run ", h("code", {}, "uv run modellab demo"), " in the repository for a project filled with example runs."),
        ),
    h("h2", {}, "Create a project"),
    form,
  );
}
