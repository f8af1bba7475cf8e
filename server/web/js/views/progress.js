// Runs in progress: their status, a cancel button while they can be stopped, and a link
// to each. Pages show this; none of it navigates by itself.
import { get, post } from "../api.js";
import { FINAL, h, replace, seg, status } from "../dom.js";

/**
 * A "Cancel run" button for a queued or running run. A queued run ends at once; a
 * running one when its watcher stops its training process. onCancelled gets the run.
 */
export function cancelButton(run, errorBox, onCancelled) {
  const button = h("button", { type: "button", class: "secondary" }, "Cancel run");
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(errorBox);
    try {
      onCancelled(await post(`/api/runs/${seg(run.id)}/cancel`));
    } catch (e) {
      replace(errorBox, e.message);
      button.disabled = false;
    }
  });
  return button;
}

/**
 * A live list of runs (a baseline and the candidate that waits on it): each one's status
 * and reason, a link to its page, and a cancel button until it ends. Polls while the
 * page is open; the runs go on when it is closed.
 */
export function runProgress(ctx, runs) {
  const error = h("p", { class: "error", role: "alert" });
  const items = runs.map(() => h("li"));
  const draw = (i) => {
    const run = runs[i];
    const waiting = run.status === "queued" && run.waits_on ? " (waits on its baseline)" : "";
    replace(
      items[i],
      h("a", { href: `#/runs/${seg(run.id)}` }, `${run.model} (${run.role})`),
      ": ",
      status(run.status),
      waiting,
      run.status_reason ? ` — ${run.status_reason}` : "",
      " ",
      FINAL.has(run.status) ? null : cancelButton(run, error, (ended) => {
        runs[i] = ended;
        draw(i);
      }),
    );
  };
  runs.forEach((_, i) => draw(i));
  ctx.every(1000, async () => {
    if (runs.every((r) => FINAL.has(r.status))) return;
    const fresh = await Promise.all(runs.map((r) => get(`/api/runs/${seg(r.id)}`)));
    fresh.forEach((run, i) => {
      if (run.status !== runs[i].status) {
        runs[i] = run;
        draw(i);
      }
    });
  });
  return h("div", { class: "card", id: "run-progress", "aria-live": "polite" }, h("ul", {}, items), error);
}
