import { api, get } from "../api.js";
import { h, replace, reporting, seg } from "../dom.js";

/** A project's members: list, add or change a role, remove (owners only; the API says so). */
export async function membersBox(slug) {
  const box = h("div");
  const error = h("p", { class: "field-error", id: "member-error", role: "alert" });
  const me = await get("/api/auth/me");
  const local =
    me.via === "local"
      ? h("p", { class: "muted" }, "Local mode: sign-in is off, so everyone using this server acts as the local user. Members matter once sign-in is configured (see docs/access.md).")
      : null;
  const draw = async () => {
    const members = await get(`/api/projects/${seg(slug)}/members`);
    const email = h("input", { id: "member-email", type: "email", required: true, "aria-describedby": "member-error" });
    const role = h("select", { id: "member-role" }, ["viewer", "editor", "owner"].map((r) => h("option", { value: r }, r)));
    replace(
      box,
      local,
      h(
        "ul",
        {},
        members.map((m) =>
          h(
            "li",
            {},
            `${m.email} · ${m.role} `,
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": `remove ${m.email}`,
                onclick: reporting(error, async () => {
                  await api("DELETE", `/api/projects/${seg(slug)}/members/${seg(m.email)}`);
                  await draw();
                }),
              },
              "Remove",
            ),
          ),
        ),
      ),
      h(
        "form",
        {
          class: "row",
          onsubmit: reporting(error, async () => {
            await api("PUT", `/api/projects/${seg(slug)}/members`, { email: email.value, role: role.value });
            await draw();
          }),
        },
        h("label", { for: "member-email" }, "Email", email),
        h("label", { for: "member-role" }, "Role", role),
        h("button", { type: "submit" }, "Add or change"),
      ),
      error,
    );
  };
  await draw();
  return box;
}
