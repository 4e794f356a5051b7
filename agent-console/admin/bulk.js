// Bulk import: upload → dry-run preview (every row's problem) → apply, with progress polled from
// the server while the file is written in one transaction.
import { get, upload, detailText } from '/static/help/api.js';
import { t, setText } from '/static/help/i18n.js';
import { $, toast } from './admin.js';

let previewed = null; // the file that passed the preview

function showProblems(plan) {
  const table = $('imp-problems');
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const p of plan.problems) {
    const tr = body.insertRow();
    for (const text of [p.row || '—', p.key, p.column || '', p.problem]) tr.insertCell().textContent = String(text);
  }
  table.hidden = plan.problems.length === 0;
}

function status(key, args) {
  $('imp-status').hidden = false;
  setText($('imp-status'), key, args);
}

async function send(dryRun, job) {
  const kind = $('imp-kind').value;
  const file = $('imp-file').files[0];
  const q = new URLSearchParams({ dry_run: String(dryRun) });
  if (job) q.set('job', job);
  return upload(`/api/admin/imports/${kind}?${q}`, file, (f) => {
    $('imp-progress').hidden = false;
    $('imp-progress').value = f * 0.2; // the upload is the first fifth of the bar
  });
}

async function preview(e) {
  e.preventDefault();
  $('imp-error').hidden = true;
  $('imp-apply').disabled = true;
  previewed = null;
  if (!$('imp-file').files[0]) { $('imp-error').hidden = false; setText($('imp-error'), 'imp.no_file'); return; }
  status('imp.checking');
  try {
    const plan = await send(true);
    showProblems(plan);
    $('imp-progress').hidden = true;
    if (plan.problem_count) { status('imp.problems', { n: plan.problem_count, rows: plan.rows }); return; }
    status('imp.preview_ok', plan);
    previewed = $('imp-file').files[0];
    $('imp-apply').disabled = plan.created + plan.updated === 0;
  } catch (ex) {
    $('imp-progress').hidden = true;
    $('imp-status').hidden = true;
    $('imp-error').hidden = false;
    $('imp-error').textContent = `${t('imp.file_error')} ${detailText(ex) || ex.code}`;
  }
}

async function apply(reload) {
  if (!previewed || previewed !== $('imp-file').files[0]) return;
  $('imp-apply').disabled = true;
  const job = `imp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let done = false;
  const poll = async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 400));
      const p = await get(`/api/admin/imports/progress/${job}`).catch(() => null);
      if (p && p.total && !done) {
        $('imp-progress').value = 0.2 + 0.8 * (p.done / p.total) * (p.phase === 'write' ? 1 : 0.5);
        status('imp.progress', { phase: t(`imp.phase_${p.phase}`), done: p.done, total: p.total });
      }
    }
  };
  poll();
  try {
    const plan = await send(false, job);
    done = true;
    $('imp-progress').value = 1;
    showProblems(plan);
    if (plan.applied) {
      status('imp.applied', plan);
      toast('imp.applied', plan);
      if (plan.passwords.length) {
        const lines = plan.passwords.map((p) => `${p.username}: ${p.one_time_password}`).join('\n');
        $('imp-status').textContent += `\n${t('imp.passwords')}\n${lines}`;
      }
      await reload();
    } else if (plan.problem_count) {
      status('imp.problems', { n: plan.problem_count, rows: plan.rows });
    } else {
      status('imp.nothing');
    }
  } catch (ex) {
    done = true;
    $('imp-error').hidden = false;
    $('imp-error').textContent = `${t('imp.file_error')} ${detailText(ex) || ex.code}`;
  }
}

export function initBulk({ reload }) {
  $('imp-form').addEventListener('submit', preview);
  $('imp-apply').addEventListener('click', () => apply(reload));
  $('imp-file').addEventListener('change', () => { $('imp-apply').disabled = true; previewed = null; });
}
