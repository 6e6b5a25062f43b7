// Session and API access for the saferplaces map (safeguards.md S12, S15).
//
// The bearer token lives in this tab's sessionStorage only (never
// localStorage, never the URL) and is cleared after 15 minutes without user
// activity. `getJSON` sends it with every /api/v1/ request; `tileRequest`
// (MapLibre's transformRequest) adds it to our own /tiles/ requests and to
// nothing else. Signed-in responses never go into the browser's HTTP cache.
import { $, el } from "./util.js";

// S15: sign out automatically after this long without user interaction.
export const IDLE_LOGOUT_MS = 15 * 60 * 1000;
// Interactions that count as activity for the idle logout.
export const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"];
// sessionStorage keys (never localStorage: the token must not outlive the tab).
const TOKEN_KEY = "saferplaces.token";
const ACTIVITY_KEY = "saferplaces.lastActivity";
// What a token may look like before we put it in a header (printable ASCII, no spaces).
export const TOKEN_PATTERN = /^[\x21-\x7e]{1,512}$/;

/** sessionStorage, or null where the browser refuses it (the token then lives in memory only). */
function sessionStore() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export const session = {
  token: null,
  lastActivity: Date.now(),
  lastSaved: 0,
  timer: 0,
  onIdle: null, // called when the idle logout fires

  /** Restore a token from this tab's sessionStorage, unless it has been idle too long. */
  restore() {
    const store = sessionStore();
    const token = store?.getItem(TOKEN_KEY) ?? null;
    const last = Number(store?.getItem(ACTIVITY_KEY));
    if (token && TOKEN_PATTERN.test(token) && Number.isFinite(last) && Date.now() - last < IDLE_LOGOUT_MS) {
      this.token = token;
      this.lastActivity = last;
      this.schedule();
    } else {
      this.clear();
    }
  },

  set(token) {
    this.token = token;
    try {
      sessionStore()?.setItem(TOKEN_KEY, token);
    } catch {
      // storage full or refused: keep the token in memory for this page only
    }
    this.touch(Date.now(), true);
  },

  clear() {
    this.token = null;
    clearTimeout(this.timer);
    try {
      sessionStore()?.removeItem(TOKEN_KEY);
      sessionStore()?.removeItem(ACTIVITY_KEY);
    } catch {
      // nothing stored
    }
  },

  /** User activity: restart the idle clock (cheap enough to run on every pointermove). */
  touch(now = Date.now(), force = false) {
    if (!this.token) return;
    this.lastActivity = now;
    if (force || now - this.lastSaved > 10_000) {
      this.lastSaved = now;
      try {
        sessionStore()?.setItem(ACTIVITY_KEY, String(now));
      } catch {
        // best effort
      }
    }
    if (force || !this.timer) this.schedule();
  },

  /** One timer; when it fires early (activity since), it re-arms for the remainder. */
  schedule() {
    clearTimeout(this.timer);
    const wait = Math.max(0, this.lastActivity + IDLE_LOGOUT_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.check();
    }, wait + 250);
  },

  check(now = Date.now()) {
    if (!this.token) return;
    if (now - this.lastActivity >= IDLE_LOGOUT_MS) {
      this.clear();
      this.onIdle?.();
    } else if (!this.timer) {
      this.schedule();
    }
  },

  headers() {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  },
};

/** An API error: HTTP status and the API's error code, when there was a response. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * GET a JSON document from our API with the caller's token; errors carry a
 * readable message, the HTTP status and the API's error code. `no-store`:
 * responses may hold place-level data and differ by role, so none of them
 * goes into the browser's HTTP cache (S15).
 */
export async function getJSON(path, params, signal) {
  const url = params ? `${path}?${params}` : path;
  let response;
  try {
    response = await fetch(url, { signal, headers: session.headers(), cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(`${path}: ${err.message}`);
  }
  if (!response.ok) {
    // The API answers 4xx with {"error": CODE, "message": ..., "field": ...}.
    let code;
    let detail = "";
    try {
      const body = await response.json();
      code = typeof body.error === "string" ? body.error : undefined;
      detail = [body.error, body.field && `field ${body.field}`].filter(Boolean).join(", ");
    } catch {
      // not JSON: the status line is all we have
    }
    throw new ApiError(`${path}: HTTP ${response.status}${detail ? ` (${detail})` : ""}`, response.status, code);
  }
  return response.json();
}

/**
 * MapLibre `transformRequest`: the bearer token goes only to our own
 * origin's /tiles/ URLs, and only while signed in; signed-in tiles are
 * fetched with `no-store` so they never land in the HTTP cache (S15). Every
 * URL MapLibre asks for is recorded in `window.__mapRequests` for the tests.
 */
export function tileRequest(url) {
  const seen = (window.__mapRequests ??= []);
  if (seen.length < 50_000) seen.push(url); // bounded: a long session must not grow it forever
  if (!session.token) return undefined;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.origin !== window.location.origin || !parsed.pathname.startsWith("/tiles/")) return undefined;
  return { url, headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store" };
}

// ---------------------------------------------------------------------------
// Status line (role="status"): who you are, any current errors and notices,
// and one info message.

export const status = {
  identity: "",
  info: "Loading…",
  errors: new Map(), // key -> message, so a later success can clear it
  notices: new Map(), // key -> message: not errors, but worth saying (e.g. idle logout)

  setIdentity(text) {
    this.identity = text;
    this.render();
  },
  setInfo(text) {
    this.info = text;
    this.render();
  },
  notice(key, message) {
    this.notices.set(key, message);
    this.render();
  },
  error(key, message) {
    this.errors.set(key, message);
    this.render();
  },
  clear(key) {
    const a = this.errors.delete(key);
    const b = this.notices.delete(key);
    if (a || b) this.render();
  },
  render() {
    const node = $("#status");
    node.replaceChildren(
      ...(this.identity ? [el("span", { className: "status-identity", text: this.identity })] : []),
      ...[...this.errors.values()].map((message) => el("span", { className: "status-error", text: message })),
      ...[...this.notices.values()].map((message) => el("span", { className: "status-notice", text: message })),
      ...(this.info ? [el("span", { className: "status-info", text: this.info })] : []),
    );
    node.classList.toggle("has-error", this.errors.size > 0);
  },
};
