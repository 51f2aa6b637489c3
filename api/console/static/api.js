// The HTTP API, same origin: the bearer token from sessionStorage, problem+json errors.

const TOKEN_KEY = "credit-ledger.console.token";

export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A refusal from the API (RFC 9457), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && problem.detail) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.problem = problem || {};
    this.detail = detail;
  }
}

/** The highest ledger position this tab has written: later reads wait for it. */
let written = 0;
const listeners = new Set();

export function lastWrite() {
  return written;
}

/** Called after every successful write (caches drop their data). */
export function onWrite(listener) {
  listeners.add(listener);
}

/** Call the API; resolves to the parsed JSON or rejects with an ApiError. */
export async function api(path, options = {}) {
  const { method = "GET", query, body, token = session.token() } = options;
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json, application/problem+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (error) {
    throw new ApiError(0, { detail: `无法连接服务 network error: ${error.message}` });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { detail: text || response.statusText };
    throw new ApiError(response.status, problem);
  }
  if (method !== "GET") {
    if (data && Number.isInteger(data.position) && data.position > written) {
      written = data.position;
    }
    for (const listener of listeners) listener();
  }
  return data;
}

/** `min_position` for reads that should see this tab's own writes. */
export function seeWrites() {
  return written > 0 ? written : undefined;
}

export async function detectRole(token) {
  // GET /v1/me names the token's role and fields; 401 means the token is unknown or revoked.
  const me = await api("/v1/me", { token });
  const role = me.role;
  const canRead = ["reader", "recorder", "auditor", "admin"].includes(role);
  const canAudit = ["auditor", "admin"].includes(role);
  const canRecord = ["recorder", "admin"].includes(role);
  return { role, canRead, canAudit, canRecord, fields: me.fields };
}

/** Reads kept for this tab until the next write, sign-out or refresh. */
const memo = new Map();

export function cached(key, load) {
  if (!memo.has(key)) {
    const promise = load();
    memo.set(key, promise);
    promise.catch(() => memo.delete(key));
  }
  return memo.get(key);
}

export function clearCache() {
  memo.clear();
}

onWrite(clearCache);
