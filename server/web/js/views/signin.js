import { get, post } from "../api.js";
import { h, replace } from "../dom.js";

/** Sign in by magic link or Google, as the server offers. */
export async function signInPage({ main }) {
  const methods = await get("/api/auth/methods");
  if (!methods.sign_in_required) {
    replace(main, h("h1", {}, "No sign-in needed"), h("p", {}, "This server runs in local mode as the single local user. ", h("a", { href: "#/" }, "Go to projects")));
    return;
  }
  const email = h("input", { id: "signin-email", type: "email", required: true, autocomplete: "email" });
  const said = h("p", { role: "status" });
  const parts = [h("h1", {}, "Sign in to ModelLab")];
  if (methods.magic_link) {
    parts.push(
      h(
        "form",
        {
          class: "stack",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              await post("/api/auth/magic-link", { email: email.value });
              replace(said, "If that address may sign in, a link is on its way. It works once, for 15 minutes.");
            } catch (e) {
              replace(said, h("span", { class: "error" }, e.message));
            }
          },
        },
        h("label", { for: "signin-email" }, "Email address", email),
        h("button", { type: "submit" }, "Email me a sign-in link"),
        said,
      ),
    );
  }
  if (methods.google) parts.push(h("p", {}, h("a", { href: "/auth/google/start" }, "Sign in with Google")));
  replace(main, parts);
}
