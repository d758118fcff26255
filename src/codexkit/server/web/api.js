// The server's REST routes, with the login link's cookie (same origin, path /api).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

const TIMEOUT_MS = 30000;

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  init.signal = abort.signal;
  let answer;
  try {
    answer = await fetch("/api" + path, init);
  } catch (err) {
    throw new ApiError(0, { message: abort.signal.aborted ? "the server did not answer in time" : "the server cannot be reached" });
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await answer.json();
  } catch {
    data = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const del = (path) => api("DELETE", path);

export const enc = encodeURIComponent;
