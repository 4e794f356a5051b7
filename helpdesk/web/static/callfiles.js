// The files and knowledge-base articles of a call, as list items of the call view's file list.
import { get, detailText } from './api.js';
import { t, formatSize } from './i18n.js';

/** A knowledge-base article sent into the call: read in place (sanitised by the server, sandboxed here). */
function articleView(f) {
  const box = document.createElement('details');
  box.className = 'kb-article-link';
  const summary = document.createElement('summary');
  summary.textContent = t('file.kb_article_named', { name: f.name });
  box.append(summary);
  box.addEventListener('toggle', async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = '1';
    try {
      const a = await get(f.url);
      const frame = document.createElement('iframe');
      frame.setAttribute('sandbox', 'allow-popups allow-popups-to-escape-sandbox'); // never scripts
      frame.title = a.title || f.name;
      frame.srcdoc = `<!doctype html><meta charset="utf-8"><base target="_blank">${a.html || ''}`;
      box.append(frame);
    } catch (err) {
      const p = document.createElement('p');
      p.className = 'field-error';
      p.textContent = t('file.failed', { detail: detailText(err) || err.code });
      box.append(p);
    }
  });
  return box;
}

/** One file (or article) of the call as a list item; `mine` says who sent it. */
export function fileItem(f, mine) {
  const li = document.createElement('li');
  li.dataset.fileId = f.id ?? '';
  li.className = mine ? 'mine' : 'theirs';
  if (f.source) li.dataset.source = f.source;
  if (f.source === 'kb' && String(f.url || '').startsWith('/api/kb/public/articles/')) {
    li.append(articleView(f));
    return li;
  }
  const a = document.createElement('a');
  a.href = f.url;
  a.textContent = f.name;
  a.setAttribute('download', f.name);
  a.rel = 'noopener';
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${formatSize(f.size)} · ${mine ? t('file.sent') : t('file.received')}`;
  li.append(a, meta);
  if (String(f.content_type || '').startsWith('image/')) {
    const img = document.createElement('img');
    img.src = f.preview_url || f.url;
    img.alt = f.name;
    img.loading = 'lazy';
    img.addEventListener('error', () => img.remove());
    const link = document.createElement('a');
    link.href = f.url; link.target = '_blank'; link.rel = 'noopener';
    link.append(img);
    li.append(link);
  }
  return li;
}

export function fileErrorText(err) {
  if (err.status === 413 || err.code === 'too_large') return t('file.too_large', { detail: detailText(err) });
  if (err.status === 415 || err.code === 'unsupported_type') return t('file.bad_type', { detail: detailText(err) });
  if (err.status === 0) return t('error.network');
  return t('file.failed', { detail: detailText(err) || err.code });
}
