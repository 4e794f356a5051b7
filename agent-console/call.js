// The agent's call: the shared call view plus the applicant's context beside it.
import { createCallView } from '/static/help/callview.js';
import { renderContext } from './offer.js';

const $ = (id) => document.getElementById(id);

export function createConsoleCall({ socket, me, onEnded, onStateChange }) {
  const view = createCallView({ socket, me, onEnded, onStateChange });

  return {
    view,
    get peer() { return view.peer; },
    get active() { return !!view.call && view.call.state !== 'ended'; },
    /** room.joined (or a resumed room in welcome): show the call and the context we were offered. */
    join(joined, context) {
      $('call-view').hidden = false;
      if (context) {
        renderContext($('call-context-body'), context);
        $('call-context').hidden = false;
      }
      return view.join(joined);
    },
    hide() {
      $('call-view').hidden = true;
      $('call-context').hidden = true;
    },
    setSocketDown: (d) => view.setSocketDown(d),
  };
}

/** Keyboard shortcuts (Alt + letter, by physical key so they work on every layout). */
export const SHORTCUTS = {
  KeyA: 'offer-accept',
  KeyX: 'offer-decline',
  KeyR: 'ready-toggle',
  KeyM: 'mute',
  KeyV: 'camera',
  KeyS: 'screen-share',
  KeyH: 'hangup',
  KeyC: 'chat-input',
  KeyU: 'file-input',
};

export function bindShortcuts() {
  document.addEventListener('keydown', (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const id = SHORTCUTS[e.code];
    const el = id && $(id);
    if (!el || el.disabled || el.closest('[hidden]')) return;
    e.preventDefault();
    if (id === 'chat-input') el.focus();
    else el.click();
  });
}
