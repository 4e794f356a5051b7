// Small fetch helpers for the KB API: same-origin cookies, CSRF header on unsafe methods, JSON errors.

export function csrfFromCookie() {
  const m = document.cookie.match(/(?:^|;\s*)hd_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export class KbApi {
  constructor({ csrf, base = "/api/kb" } = {}) {
    this.csrf = csrf || csrfFromCookie();
    this.base = base;
  }

  async request(method, path, body, { form = false } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = this.csrf || csrfFromCookie();
    let payload;
    if (form) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.base + path, { method, headers, body: payload, credentials: "same-origin" });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`);
      err.code = data.error || "http_error";
      err.status = res.status;
      throw err;
    }
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  del(path) { return this.request("DELETE", path); }
  upload(path, formData) { return this.request("POST", path, formData, { form: true }); }
}

// Build DOM without innerHTML: h("div", {class: "x", onclick}, "text", child)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Only for HTML the server already sanitised (bleach allowlist, or Whoosh snippets with escaped text).
export function trustedHtml(tag, html, attrs = {}) {
  const el = h(tag, attrs);
  el.innerHTML = html;
  return el;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

export function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
