// DOM building without HTML parsing: every string a user typed or uploaded becomes a
// text node, so a name like <img src=x onerror=alert(1)> shows those characters.

/** Create an element; attrs "onX" add listeners; children may be nodes, strings or arrays. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "style") {
      // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
      el.style.cssText = String(value);
    } else if (key === "href" && !String(value).startsWith("#") && !String(value).startsWith("/")) {
      throw new Error(`refusing a link outside this app: ${value}`);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (nodes or text) to el. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace everything inside el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * An event handler that keeps the page from reloading, clears errorBox, runs action and
 * shows its failure in errorBox in words (every form and button that calls the API).
 */
export function reporting(errorBox, action) {
  return async (event) => {
    event.preventDefault();
    replace(errorBox);
    try {
      await action(event);
    } catch (e) {
      replace(errorBox, e.message);
    }
  };
}

/** A path segment for links built from names and ids. */
export const seg = (value) => encodeURIComponent(String(value));

/** The statuses a run does not leave. */
export const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** A number to `digits` places, or a dash when there is none. */
export const num = (v, digits = 4) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));

/**
 * A delta with its CI, coloured better, worse or noise (the CI holds 0); sayDirection
 * also puts "better" or "worse" into words.
 */
export function deltaSpan(delta, higherIsBetter, { sayDirection = false } = {}) {
  const within = delta.ci_low !== null && delta.ci_low !== undefined && delta.ci_low <= 0 && delta.ci_high >= 0;
  const good = (delta.value > 0) === higherIsBetter;
  return h(
    "span",
    { class: within ? "noise" : good ? "better" : "worse" },
    `${delta.value > 0 ? "+" : ""}${num(delta.value)} [${num(delta.ci_low, 3)}, ${num(delta.ci_high, 3)}]`,
    within ? " (within noise)" : sayDirection ? (good ? " (better)" : " (worse)") : "",
  );
}

/** "0.8123 [0.801, 0.824]" from an estimate with an optional CI. */
export function estimate(est, digits = 4) {
  if (!est || est.value === null || est.value === undefined) return "—";
  let text = Number(est.value).toFixed(digits);
  if (est.ci_low !== null && est.ci_low !== undefined) {
    text += ` [${Number(est.ci_low).toFixed(3)}, ${Number(est.ci_high).toFixed(3)}]`;
  }
  return text;
}

/** Report text with its long decimals cut to four places (0.0597014925373 -> 0.0597). */
export const readable = (text) => String(text).replace(/-?\d+\.\d{5,}/g, (x) => Number(x).toFixed(4));

/** A status word styled by its value. */
export function status(value) {
  return h("span", { class: `status status-${value}` }, value);
}

/** A table with sortable columns: columns are {key, label, value(row), num?}. */
export function sortableTable(columns, rows, { caption, initial } = {}) {
  let sortKey = initial?.key ?? null;
  let ascending = initial?.ascending ?? true;
  const table = h("table");
  const render = () => {
    const sorted = [...rows];
    const column = columns.find((c) => c.key === sortKey);
    if (column) {
      const key = column.sort ?? column.value;
      sorted.sort((a, b) => {
        const x = key(a);
        const y = key(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * (ascending ? 1 : -1);
      });
    }
    const head = h(
      "tr",
      {},
      columns.map((c) =>
        h(
          "th",
          {
            scope: "col",
            class: c.num ? "num" : null,
            "aria-sort": c.key === sortKey ? (ascending ? "ascending" : "descending") : "none",
          },
          h(
            "button",
            {
              type: "button",
              onclick: () => {
                ascending = sortKey === c.key ? !ascending : true;
                sortKey = c.key;
                render();
              },
            },
            c.label,
            c.key === sortKey ? (ascending ? " ▲" : " ▼") : "",
          ),
        ),
      ),
    );
    const body = sorted.map((row) =>
      h(
        "tr",
        {},
        columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.cell ? c.cell(row) : c.value(row))),
      ),
    );
    // The caption is for screen readers: sighted readers have the heading above.
    replace(table, caption ? h("caption", { class: "sr-only" }, caption) : null, h("thead", {}, head), h("tbody", {}, body));
  };
  render();
  return h("div", { class: "table-wrap" }, table);
}

// What a report's metrics, plots and failure modes mean: EvalHarness' catalog and the
// plugins' own metrics, from GET /api/plugins (loadDescriptions). The UI keeps no copy.
let words = { metrics: {}, plots: {}, failure_modes: {} };

/** Use these descriptions (GET /api/plugins `descriptions`) in every page from now on. */
export function useDescriptions(descriptions) {
  words = descriptions;
}

/** A failure-mode category's [title, description], or the key itself when unknown. */
export function failureMode(key) {
  const mode = words.failure_modes[key];
  return mode ? [mode.title, mode.description] : [key, ""];
}

/** A plot as a figure: a titled caption, alt text that says what it shows, a link to full size. */
export function plotFigure(src, file, context) {
  const stem = file.split("/").pop().replace(/\.png$/, "");
  const plot = words.plots[stem];
  const [title, says] = plot ? [plot.title, plot.shows] : [stem.replaceAll("_", " "), "a plot of the evaluation"];
  return h(
    "figure",
    {},
    h("a", { href: src, target: "_blank", rel: "noopener", title: "Open full size" }, h("img", { src, alt: `${title} ${context}: ${says}`, loading: "lazy" })),
    h("figcaption", {}, h("strong", {}, title), h("span", { class: "muted" }, ` — ${says}`)),
  );
}

/** A metric's name with a line saying what it measures and which way is better. */
export function metricName(name) {
  const metric = words.metrics[name];
  if (!metric) return name;
  const says = `${metric.description}; ${metric.higher_is_better ? "higher" : "lower"} is better`;
  return [h("span", {}, name), h("br"), h("span", { class: "hint" }, says)];
}
