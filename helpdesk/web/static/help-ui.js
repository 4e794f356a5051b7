// Small parts of the applicant page: wording for phone or desktop, labelled guide tables, and the
// hang-up confirmation.
import { setText } from './i18n.js';

const $ = (id) => document.getElementById(id);

/** Phones ask for the camera in a system prompt; desktop browsers in the address bar. */
function onPhone() {
  return !!navigator.userAgentData?.mobile || /Mobi|Android|iPhone|iPad/i.test(navigator.userAgent)
    || matchMedia('(pointer: coarse)').matches;
}

export function renderDeviceWording() {
  const phone = onPhone();
  const explain = document.body.classList.contains('elder') ? 'help.explain_text_elder'
    : phone ? 'help.explain_text' : 'help.explain_text_desktop';
  setText(document.querySelector('#media-explain p'), explain);
  setText($('permission-denied'), phone ? 'help.permission_denied' : 'help.permission_denied_desktop');
}

/** Each cell learns its column heading, so a phone can show a table row as a labelled card. */
export function labelTableCells(root) {
  for (const table of root.querySelectorAll('table')) {
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    if (!heads.length) continue;
    table.classList.add('stacked');
    for (const tr of table.querySelectorAll('tbody tr')) {
      [...tr.children].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
    }
  }
}

/** A mis-tap must not end the call (many applicants are elderly): ask once, in a dialog. */
export function confirmHangup() {
  const dialog = $('hangup-confirm');
  return new Promise((resolve) => {
    const done = (yes) => { dialog.close(); resolve(yes); };
    $('hangup-yes').onclick = () => done(true);
    $('hangup-no').onclick = () => done(false);
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
    $('hangup-no').focus();
  });
}
