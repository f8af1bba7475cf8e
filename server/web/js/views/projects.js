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
      : h("p", { class: "muted" }, "No projects yet. Create one below, then upload a CSV to it."),
    h("h2", {}, "Create a project"),
    form,
  );
}
