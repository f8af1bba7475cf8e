// The JSON API, and its errors in words: every failure becomes an ApiError whose
// message is the problem document's detail, never raw JSON.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `the server answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function decode(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const problem = typeof body === "object" && body ? body : { detail: String(body).slice(0, 300) };
    throw new ApiError(response.status, problem);
  }
  return body;
}

/** Call the API; JSON in and out. */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached. Is `modellab serve` running?" });
  }
  return decode(response);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});

/** Upload a multipart form with progress (0..1) reported to onProgress. */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { detail: xhr.responseText.slice(0, 300) };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, { detail: "The upload was interrupted: the server cannot be reached." })),
    );
    xhr.send(form);
  });
}

let described = null;

/** What a report's metrics, plots and failure modes mean (GET /api/plugins), once. */
export async function descriptions() {
  described ??= get("/api/plugins").then((p) => p.descriptions);
  try {
    return await described;
  } catch (e) {
    described = null;  // not signed in yet, say: ask again next time
    throw e;
  }
}
