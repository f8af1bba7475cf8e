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

/** "0.8123 [0.801, 0.824]" from an estimate with an optional CI. */
export function estimate(est, digits = 4) {
  if (!est || est.value === null || est.value === undefined) return "—";
  let text = Number(est.value).toFixed(digits);
  if (est.ci_low !== null && est.ci_low !== undefined) {
    text += ` [${Number(est.ci_low).toFixed(3)}, ${Number(est.ci_high).toFixed(3)}]`;
  }
  return text;
}

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
    replace(table, caption ? h("caption", { class: "muted" }, caption) : null, h("thead", {}, head), h("tbody", {}, body));
  };
  render();
  return h("div", { class: "table-wrap" }, table);
}
