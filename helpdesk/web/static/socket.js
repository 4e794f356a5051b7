// Opens the one WebSocket (/ws) through HelpdeskSocket from /static/signaling/rtc.js and reports
// when it goes down and comes back, so the pages can show a "reconnecting" banner.
import { HelpdeskSocket } from '/static/signaling/rtc.js';
import { t } from './i18n.js';

export function openSocket({ onDown = () => {}, onUp = () => {}, onError = () => {}, onReplaced = () => {} } = {}) {
  const socket = new HelpdeskSocket();
  let down = false;
  const setDown = (d) => {
    if (d === down) return;
    down = d;
    (d ? onDown : onUp)();
  };
  // HelpdeskSocket states: idle → connecting → open → reconnecting → … → closed.
  socket.on('state', ({ state }) => {
    if (state === 'open') setDown(false);
    else if (state === 'reconnecting') setDown(true);
  });
  socket.on('replaced', () => { setDown(false); onReplaced(); });
  socket.on('error', (m) => { if (m && m.code) onError(m); });
  socket.connect();
  window.__helpdesk = Object.assign(window.__helpdesk || {}, { socket });
  return socket;
}

/** A translated message for a typed socket error ({type:"error", code, message, ref}). */
export function socketErrorText(m) {
  const key = `ws.${m.code}`;
  const s = t(key);
  return s === key ? t('ws.generic', { detail: m.message || m.code }) : s;
}
