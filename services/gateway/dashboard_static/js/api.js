// The page's only way to the data: the gateway's /v1 API with a token minted for this browser's
// session (POST /dashboard/api/token). The token lives in this module's memory only — never in
// a cookie, storage or a URL — and is minted again shortly before it expires or after a 401.
// When the session has ended (sign-out elsewhere, idle, expiry) the page goes to the sign-in form.

const REFRESH_MARGIN_MS = 30_000;
let current = null; // {token, expiresAt, user}
let pending = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function signInAgain() {
  window.location.assign("/dashboard/sign-in");
  return new Promise(() => {}); // the page is leaving
}

async function mint() {
  const response = await fetch("/dashboard/api/token", {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.status === 401) return signInAgain();
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const body = await response.json();
  current = {
    token: body.access_token,
    expiresAt: Date.now() + body.expires_in * 1000,
    user: body.user,
  };
  return current;
}

async function session() {
  if (current && current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return current;
  pending ??= mint().finally(() => {
    pending = null;
  });
  return pending;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function url(path, params) {
  const target = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

async function call(path, params, accept) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const { token } = await session();
    const response = await fetch(url(path, params), {
      headers: { Authorization: `Bearer ${token}`, Accept: accept },
      credentials: "omit",
    });
    if (response.status === 401) {
      current = null; // revoked or expired early: mint once more, then sign in again
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    return response;
  }
  return signInAgain();
}

/** Who is signed in: {name, role, bank_code}. */
export async function user() {
  return (await session()).user;
}

/** GET a /v1 resource as JSON. */
export async function getJSON(path, params) {
  return (await call(path, params, "application/json")).json();
}

/** Every item of a /v1 list (follows next_cursor; lists here are short: banks, products…). */
export async function getAll(path, params) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJSON(path, { ...params, limit: 500, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export const MEDIA = {
  csv: "text/csv",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

/** Download a /v1 resource as CSV or XLSX through the API (the token stays in a header). */
export async function download(path, params, kind, filename) {
  const blob = await (await call(path, params, MEDIA[kind])).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${filename}.${kind}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
