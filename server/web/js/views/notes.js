import { post } from "../api.js";
import { append, h, reporting, seg } from "../dom.js";

const noteItem = (n) => h("li", {}, `${n.created_at.slice(0, 19).replace("T", " ")} UTC: `, n.text);

/** A run's notes, oldest first. */
export function notesList(notes) {
  return h("ul", {}, notes.map(noteItem));
}

/** A form that appends a note to a run (notes are never edited) and adds it to list. */
export function noteForm(runId, list, { label, button }) {
  const id = `note-${runId}`;
  const text = h("textarea", { id, rows: 2, required: true, maxlength: 10000 });
  const error = h("p", { class: "field-error", role: "alert" });
  return h(
    "form",
    {
      class: "stack",
      onsubmit: reporting(error, async () => {
        const run = await post(`/api/runs/${seg(runId)}/notes`, { text: text.value });
        append(list, noteItem(run.notes[run.notes.length - 1]));
        text.value = "";
      }),
    },
    h("label", { for: id }, label, text),
    error,
    h("button", { type: "submit", class: "secondary" }, button),
  );
}
