// Tiny i18n loader shared by the applicant page and the agent console.
// Catalogs are flat JSON objects ({"key": "text with {name} placeholders"}), one per language,
// served from the i18n base URL (<html data-i18n-base>, default "/static/i18n/").
// Elements carry data-i18n="key" (textContent), data-i18n-args='{"n":3}', and
// data-i18n-placeholder / data-i18n-aria-label / data-i18n-title for attributes.

export const LANGS = ['zh-CN', 'en'];
export const DEFAULT_LANG = 'zh-CN';
const STORAGE_KEY = 'hd_lang';
const catalogs = {};
let current = DEFAULT_LANG;

function base() {
  const b = document.documentElement.dataset.i18nBase || '/static/i18n/';
  return b.endsWith('/') ? b : b + '/';
}

export function normalizeLang(lang) {
  if (!lang) return null;
  const l = String(lang).toLowerCase();
  if (l.startsWith('zh')) return 'zh-CN';
  if (l.startsWith('en')) return 'en';
  return null;
}

/** The browser's first language we have a catalog for (navigator.languages, in order). */
export function browserLang() {
  const prefs = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const l of prefs) { const n = normalizeLang(l); if (n) return n; }
  return null;
}

/** The language to start with: explicit (URL, then ?lang= rendered by the server), then the saved
 * choice, then the browser's languages, then the site default (<html data-default-lang>). */
export function initialLang(explicit) {
  const url = new URLSearchParams(location.search).get('lang');
  let saved = null;
  try { saved = localStorage.getItem(STORAGE_KEY); } catch { /* private mode */ }
  return normalizeLang(url) || normalizeLang(explicit) || normalizeLang(saved) || browserLang()
    || normalizeLang(document.documentElement.dataset.defaultLang) || DEFAULT_LANG;
}

async function load(lang) {
  if (catalogs[lang]) return catalogs[lang];
  try {
    const res = await fetch(base() + encodeURIComponent(lang) + '.json', { credentials: 'same-origin' });
    catalogs[lang] = res.ok ? await res.json() : {};
  } catch {
    catalogs[lang] = {};
  }
  return catalogs[lang];
}

export function getLang() { return current; }

/** Translate key with {placeholders}; falls back to zh-CN, then to the key itself. */
export function t(key, args) {
  let s = catalogs[current]?.[key];
  if (s === undefined) s = catalogs[DEFAULT_LANG]?.[key];
  if (s === undefined) s = key;
  if (args) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in args ? String(args[name]) : m));
  return s;
}

/** Set an element's translated text and remember the key so a language switch re-renders it. */
export function setText(el, key, args) {
  if (!el) return;
  el.dataset.i18n = key;
  if (args) el.dataset.i18nArgs = JSON.stringify(args); else delete el.dataset.i18nArgs;
  el.textContent = t(key, args);
}

function argsOf(el) {
  try { return el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : undefined; } catch { return undefined; }
}

export function applyI18n(root = document) {
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n, argsOf(el)); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll('[data-i18n-aria-label]').forEach((el) => { el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel)); });
  root.querySelectorAll('[data-i18n-title]').forEach((el) => { el.title = t(el.dataset.i18nTitle); });
}

/** Show `lang`; `remember` stores it as the user's choice (a detected language is not a choice). */
export async function setLang(lang, { remember = false } = {}) {
  const l = normalizeLang(lang) || DEFAULT_LANG;
  await Promise.all([load(DEFAULT_LANG), load(l)]);
  current = l;
  document.documentElement.lang = l;
  if (remember) try { localStorage.setItem(STORAGE_KEY, l); } catch { /* private mode */ }
  applyI18n();
  document.dispatchEvent(new CustomEvent('hd:langchange', { detail: { lang: l } }));
  return l;
}

/** Wire a button that toggles between the two languages. */
export function bindLangToggle(button) {
  if (!button) return;
  const label = () => {
    button.textContent = current === 'zh-CN' ? 'English' : '中文';
    button.setAttribute('lang', current === 'zh-CN' ? 'en' : 'zh-CN');
  };
  label();
  document.addEventListener('hd:langchange', label);
  button.addEventListener('click', () => setLang(current === 'zh-CN' ? 'en' : 'zh-CN', { remember: true }));
}

/** "3 分钟" / "3 min"; under a minute → "不到 1 分钟". */
export function formatWait(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return t('time.under_minute');
  const m = Math.round(s / 60);
  if (m < 60) return t('time.minutes', { n: m });
  return t('time.hours_minutes', { h: Math.floor(m / 60), m: m % 60 });
}

export function formatSize(bytes) {
  const b = Number(bytes) || 0;
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(0)} KB`;
  return `${(b / 1024 / 1024).toFixed(1)} MB`;
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(current, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}
