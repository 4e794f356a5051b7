// The knowledge base outside a call: search, the article editor (with preview, versions, files and
// the review buttons the server allows), and the upkeep list (stale, flagged, searched-without-a-hit).
import { mountKbPanel } from '/static/kb/kb-panel.js';
import { mountKbEditor } from '/static/kb/kb-editor.js';
import { mountKbUpkeep } from '/static/kb/kb-upkeep.js';
import { csrfFromCookie } from '/static/kb/kb-api.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['search', 'edit', 'upkeep'];

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

async function boot() {
  const me = await fetch('/api/auth/me', { credentials: 'same-origin' });
  if (!me.ok) {
    $('kb-gate').hidden = false;
    return;
  }
  const csrf = csrfFromCookie();
  mountKbPanel($('kb-view-search'), { csrf });
  mountKbUpkeep($('kb-view-upkeep'), { csrf, onEdit: (id) => openEditor(id) });
  $('kb-tab-search').addEventListener('click', () => show('search'));
  $('kb-tab-upkeep').addEventListener('click', () => show('upkeep'));
  $('kb-tab-edit').addEventListener('click', () => openEditor(new URLSearchParams(location.search).get('article')));
  const article = new URLSearchParams(location.search).get('article');
  if (article) openEditor(article);
}

boot();
