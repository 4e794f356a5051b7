// Same-origin JSON API helper shared by the applicant page and the agent console.
// Every unsafe request carries X-CSRF-Token = the hd_csrf cookie (double-submit, see helpdesk/csrf.py).

export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    super(typeof detail === 'string' ? detail : code || `HTTP ${status}`);
    this.status = status;       // 0 = network failure
    this.code = code;           // the server's {"error": code}
    this.detail = detail;       // the server's {"detail": ...}
    this.retryAfter = retryAfter; // seconds, from Retry-After on 429
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/** The CSRF token: the hd_csrf cookie, or the one the server rendered into the page. */
export function csrfToken() {
  return cookie('hd_csrf') || document.body?.dataset.csrf || '';
}

async function parse(res) {
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

function toError(res, body) {
  const retry = Number(res.headers.get('Retry-After')) || undefined;
  const code = body && typeof body === 'object' ? body.error : undefined;
  const detail = body && typeof body === 'object' ? body.detail : body;
  return new ApiError(res.status, code || `http_${res.status}`, detail, retry);
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (!['GET', 'HEAD'].includes(method)) headers['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  const data = await parse(res);
  if (!res.ok) throw toError(res, data);
  return data;
}

export const get = (path) => api('GET', path);

/** A loader that keeps only the newest call's answer: an older, slower one resolves to null (the
 *  caller skips it) instead of overwriting what a newer search or save showed. */
export function newestOnly(fetcher) {
  let asked = 0;
  return async (...args) => {
    const mine = ++asked;
    const found = await fetcher(...args);
    return mine === asked ? found : null;
  };
}
export const post = (path, body) => api('POST', path, body ?? {});

/** Multipart upload of one file as field `file`, with progress (0..1) for slow networks. */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Accept', 'application/json');
    if (onProgress) xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
    xhr.ontimeout = () => reject(new ApiError(0, 'network', 'timeout'));
    xhr.onload = () => {
      let data = null;
      try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { data = xhr.responseText; }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
      const code = data && typeof data === 'object' ? data.error : undefined;
      const detail = data && typeof data === 'object' ? data.detail : data;
      reject(new ApiError(xhr.status, code || `http_${xhr.status}`, detail));
    };
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** A human-readable detail string from an ApiError (validation errors are lists). */
export function detailText(err) {
  const d = err?.detail;
  if (!d) return '';
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((x) => x.msg || JSON.stringify(x)).join('; ');
  return JSON.stringify(d);
}
