// The router: hash URLs (#/p/demo, #/runs/ID, #/compare?a=..&b=..) so every page can be
// shared by URL and the server serves one page.
import { ApiError, get, post } from "./api.js";
import { h, replace } from "./dom.js";
import { comparePage } from "./views/compare.js";
import { datasetPage } from "./views/dataset.js";
import { newRunPage } from "./views/newrun.js";
import { pluginsPage } from "./views/plugins.js";
import { projectPage } from "./views/project.js";
import { projectsPage } from "./views/projects.js";
import { runPage } from "./views/run.js";
import { signInPage } from "./views/signin.js";

const routes = [
  [/^\/$/, projectsPage],
  [/^\/plugins$/, pluginsPage],
  [/^\/sign-in$/, signInPage],
  [/^\/p\/([^/]+)$/, projectPage],
  [/^\/p\/([^/]+)\/datasets\/([^/]+)$/, datasetPage],
  [/^\/p\/([^/]+)\/new-run$/, newRunPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/compare$/, comparePage],
  // The links the mlflow client prints (/mlflow/<project>/#/experiments/N/runs/ID); the
  // server sends /mlflow/<project> to /?mlflow=<project> and the browser keeps the #part.
  [/^\/experiments\/[^/]+\/runs\/([^/]+)$/, runPage],
  [/^\/experiments\/[^/]+$/, mlflowExperimentPage],
];

/** An MLflow experiment's link: its project's page (experiments have none of their own). */
function mlflowExperimentPage(ctx) {
  const project = new URLSearchParams(location.search).get("mlflow");
  if (!project) return projectsPage(ctx);
  location.replace(`#/p/${encodeURIComponent(project)}`);
}

let current = { stop: () => {} };

/** What a page gets: where to render, its URL parts, and a way to register cleanup. */
function context(main, params, query) {
  const timers = [];
  return {
    main,
    params: params.map(decodeURIComponent),
    query,
    every(ms, fn) {
      timers.push(setInterval(fn, ms));
    },
    stop() {
      timers.forEach(clearInterval);
    },
  };
}

/** Show an error in words where the page would be. */
export function showError(main, error) {
  if (error instanceof ApiError && error.status === 401) {
    location.hash = "#/sign-in";
    return;
  }
  replace(
    main,
    h("h1", {}, error instanceof ApiError && error.status === 404 ? "Not found" : "Something went wrong"),
    h("p", { class: "error", role: "alert" }, error.message || String(error)),
    h("p", {}, h("a", { href: "#/" }, "Back to projects")),
  );
}

async function route() {
  current.stop();
  const main = document.getElementById("main");
  const [path, search] = (location.hash.slice(1) || "/").split("?");
  const query = new URLSearchParams(search || "");
  for (const [pattern, page] of routes) {
    const m = pattern.exec(path);
    if (!m) continue;
    const mine = (current = context(main, m.slice(1), query));
    // The old page stays, dimmed, until the new one is ready: a sign that it is coming.
    main.setAttribute("aria-busy", "true");
    // A new page opens at its top (status first), not where the last one was scrolled
    // to; a page that points somewhere itself (a failure slice's link) scrolls after.
    window.scrollTo(0, 0);
    try {
      await page(mine);
    } catch (error) {
      if (mine === current) showError(main, error);
    } finally {
      if (mine === current) main.setAttribute("aria-busy", "false");
    }
    if (mine === current) main.focus({ preventScroll: true });
    return;
  }
  showError(main, new ApiError(404, { detail: `There is no page ${path}.` }));
}

/** Who is signed in, and a way out when it is a session. */
async function who() {
  const box = document.getElementById("who");
  try {
    const me = await get("/api/auth/me");
    if (me.via === "local") {
      replace(box, "local mode");
      return;
    }
    const out = h("button", { type: "button", class: "secondary" }, "Sign out");
    out.addEventListener("click", async () => {
      await post("/api/auth/sign-out");
      replace(box);
      location.hash = "#/sign-in";
    });
    replace(box, `${me.email} `, me.via === "session" ? out : null);
  } catch {
    replace(box);  // Not signed in: the pages themselves send people to sign in.
  }
}

// The skip link must not touch the #fragment: that is the router's.
document.querySelector("a.skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", route);
// Signing in and out changes who is shown.
window.addEventListener("hashchange", () => {
  if (location.hash === "#/" || location.hash === "#/sign-in") who();
});
route();
who();
