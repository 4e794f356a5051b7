// Elderly-friendly mode (适老化) of the applicant page and the expected wait in words.
// The switch is a plain toggle button in the top bar; the choice is kept in localStorage (and
// ?elder=1 in a link turns it on), so a reload or the next visit opens the same way.
import { t, setText, getLang, formatWait } from './i18n.js';

const KEY = 'hd_elder';

export function elderOn() { return document.body.classList.contains('elder'); }

function apply(on, button) {
  document.body.classList.toggle('elder', on);
  document.documentElement.classList.toggle('elder', on);
  if (button) {
    button.setAttribute('aria-pressed', String(on));
    setText(button, 'elder.toggle');
  }
  document.dispatchEvent(new CustomEvent('hd:elderchange', { detail: { on } }));
}

/** Wire the switch; returns whether the mode is on. */
export function initElder(button) {
  const url = new URLSearchParams(location.search).get('elder');
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* private mode */ }
  const on = url === '1' || (url !== '0' && saved === '1');
  apply(on, button);
  button?.addEventListener('click', () => {
    const next = !elderOn();
    try { localStorage.setItem(KEY, next ? '1' : '0'); } catch { /* private mode */ }
    apply(next, button);
  });
  document.addEventListener('hd:langchange', () => apply(elderOn(), button));
  return on;
}

const ZH_DIGITS = ['零', '一', '两', '三', '四', '五', '六', '七', '八', '九'];
const EN_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const EN_TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** 0-99 as words: 十五 / fifteen; larger numbers stay digits. */
export function numberWords(n, lang = getLang()) {
  if (!Number.isInteger(n) || n < 0 || n > 99) return String(n);
  if (lang !== 'en') {
    if (n < 10) return ZH_DIGITS[n];
    const tens = Math.floor(n / 10);
    const ones = n % 10;
    return `${tens === 1 ? '' : ZH_DIGITS[tens] === '两' ? '二' : ZH_DIGITS[tens]}十${ones ? (ones === 2 ? '二' : ZH_DIGITS[ones]) : ''}`;
  }
  if (n < 20) return EN_WORDS[n];
  const ones = n % 10;
  return ones ? `${EN_TENS[Math.floor(n / 10)]}-${EN_WORDS[ones]}` : EN_TENS[n / 10];
}

const minutes = (s) => Math.max(1, Math.round(Number(s) / 60));

/**
 * The expected wait: a range "约 3-5 分钟" when the server gives one (expected_wait_low_s/high_s),
 * else "约 4 分钟"; in elderly mode as words ("大约三到五分钟"). null when unknown.
 */
export function waitText(s, elder = elderOn()) {
  const low = s?.expected_wait_low_s;
  const high = s?.expected_wait_high_s;
  const mid = s?.expected_wait_s;
  if (low != null && high != null && Number(high) >= 60) {
    const [a, b] = [minutes(low), minutes(high)];
    if (a !== b) {
      return elder ? t('wait.words_range', { low: numberWords(a), high: numberWords(b) })
        : t('wait.range', { low: a, high: b });
    }
    return elder ? t('wait.words', { n: numberWords(a) }) : t('queue.about', { wait: t('time.minutes', { n: a }) });
  }
  const one = mid ?? high ?? low;
  if (one == null) return null;
  if (Number(one) < 60) return elder ? t('wait.words_soon') : t('queue.about', { wait: formatWait(one) });
  return elder ? t('wait.words', { n: numberWords(minutes(one)) }) : t('queue.about', { wait: formatWait(one) });
}
