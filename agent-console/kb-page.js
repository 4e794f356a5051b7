// The knowledge base outside a call: search, the article editor (with preview, versions, files and
// the review buttons the server allows), the upkeep list (stale, flagged, searched-without-an-answer)
// and the vocabulary. The language follows the console's choice (/static/help/i18n.js).
import { mountKbPanel } from '/static/kb/kb-panel.js';
import { mountKbEditor } from '/static/kb/kb-editor.js';
import { mountKbUpkeep } from '/static/kb/kb-upkeep.js';
import { mountKbVocab } from '/static/kb/kb-vocab.js';
import { csrfFromCookie } from '/static/kb/kb-api.js';
import { t as kbText } from '/static/kb/kb-i18n.js'; // the KB's own catalog, not the console's
import { bindLangToggle, initialLang, setLang } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['search', 'edit', 'upkeep', 'vocab'];

function show(view) {
  for (const v of VIEWS) {
    $(`kb-view-${v}`).hidden = v !== view;
    $(`kb-tab-${v}`).setAttribute('aria-selected', String(v === view));
  }
}

function openEditor(articleId = null) {
  mountKbEditor($('kb-view-edit'), { articleId, csrf: csrfFromCookie(), onSaved: () => {} });
  show('edit');
}

function paint() {
  document.querySelectorAll('[data-kb-i18n]').forEach((el) => { el.textContent = kbText(el.dataset.kbI18n); });
  document.title = `${kbText('page.title')} · ${document.documentElement.lang === 'en' ? '帮办知识库' : 'Knowledge base'}`;
}

async function boot() {
  document.addEventListener('hd:langchange', paint);
  await setLang(initialLang());
  bindLangToggle($('kb-lang'));
  const me = await fetch('/api/auth/me', { credentials: 'same-origin' });
  if (!me.ok) {
    $('kb-gate').hidden = false;
    return;
  }
  const csrf = csrfFromCookie();
  mountKbPanel($('kb-view-search'), { csrf });
  mountKbUpkeep($('kb-view-upkeep'), { csrf, onEdit: (id) => openEditor(id) });
  let vocab = null;
  $('kb-tab-search').addEventListener('click', () => show('search'));
  $('kb-tab-upkeep').addEventListener('click', () => show('upkeep'));
  $('kb-tab-vocab').addEventListener('click', () => { vocab = vocab || mountKbVocab($('kb-view-vocab'), { csrf }); show('vocab'); });
  $('kb-tab-edit').addEventListener('click', () => openEditor(new URLSearchParams(location.search).get('article')));
  const article = new URLSearchParams(location.search).get('article');
  if (article) openEditor(article);
}

boot();
