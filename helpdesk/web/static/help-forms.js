// The applicant's callback request form and the post-call rating form.
import { post, detailText } from './api.js';
import { t, setText } from './i18n.js';

const $ = (id) => document.getElementById(id);

function phoneOk(v) {
  const digits = v.replace(/\D/g, '');
  return /^[0-9+\-()\s]{5,32}$/.test(v) && digits.length >= 7;
}

// The code sent to the phone before a call-back is accepted (when no hand-off vouches for the person).
function initPhoneCode(phoneValid) {
  const row = $('callback-code-row'), send = $('callback-send-code'), hint = $('callback-code-hint');
  let wait = 0, timer = null;
  function tick() {
    wait -= 1;
    send.disabled = wait > 0;
    send.textContent = wait > 0 ? t('callback.resend_in', { s: wait }) : t('callback.send_code');
    if (wait <= 0) clearInterval(timer);
  }
  send.addEventListener('click', async () => {
    const phone = phoneValid();
    if (!phone) return;
    send.disabled = true;
    try {
      const res = await post('/api/help/phone-codes', { phone });
      hint.textContent = t('callback.code_sent', { phone: phone.replace(/^(.{3}).*(.{4})$/, '$1****$2') })
        + (res?.dev_code ? ` ${t('callback.dev_code', { code: res.dev_code })}` : '');
      wait = 60;
      clearInterval(timer);
      timer = setInterval(tick, 1000);
      tick();
      $('callback-code').focus();
    } catch (ex) {
      send.disabled = false;
      hint.textContent = ex.status === 429 ? t('callback.code_wait') : t('callback.failed', { detail: detailText(ex) || ex.code });
    }
  });
  return {
    show(on) { row.hidden = !on; },
    needed: () => !row.hidden,
    value: () => $('callback-code').value.trim(),
  };
}

export function initCallbackForm({ item, unit = () => '', onBack, needsCode = () => false }) {
  const form = $('callback-form');
  const done = $('callback-done');
  const err = $('callback-error');
  const phoneErr = $('callback-phone-error');
  const phoneInput = $('callback-phone');

  function validPhone() {
    phoneErr.textContent = '';
    const phone = phoneInput.value.trim().replace(/\s+/g, ' ');
    if (!phoneOk(phone)) {
      setText(phoneErr, phone ? 'callback.phone_invalid' : 'callback.phone_missing');
      phoneInput.setAttribute('aria-invalid', 'true');
      phoneInput.focus();
      return null;
    }
    phoneInput.removeAttribute('aria-invalid');
    return phone;
  }
  const code = initPhoneCode(validPhone);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const phone = validPhone();
    if (!phone) return;
    const body = { item: item(), phone };
    if (code.needed()) {
      if (!/^[0-9]{6}$/.test(code.value())) { setText(err, 'callback.code_missing'); err.hidden = false; $('callback-code').focus(); return; }
      body.code = code.value();
    }
    if (unit()) body.unit = unit();
    const when = $('callback-time').value; // "2026-11-28T15:00", the applicant's local time
    if (when) body.preferred_time = when.replace('T', ' ').slice(0, 64);
    const note = $('callback-note').value.trim();
    if (note) body.note = note;
    $('callback-submit').disabled = true;
    try {
      const res = await post('/api/help/callbacks', body);
      form.hidden = true;
      done.hidden = false;
      setText($('callback-done-text'), 'callback.done_text', { number: res?.number ?? '' });
      done.tabIndex = -1;
      done.focus();
    } catch (ex) {
      err.hidden = false;
      if (ex.code === 'phone_unverified') code.show(true);
      const key = { phone_unverified: 'callback.code_missing', code_mismatch: 'callback.code_mismatch', code_expired: 'callback.code_expired' }[ex.code];
      err.textContent = ex.status === 0 ? t('error.network')
        : ex.status === 429 ? t('callback.too_many')  // rate limited: per session, address or number
          : key ? t(key) : t('callback.failed', { detail: detailText(ex) || ex.code });
    } finally {
      $('callback-submit').disabled = false;
    }
  });
  $('callback-cancel').addEventListener('click', onBack);

  return {
    reset() {
      code.show(needsCode());
      form.hidden = false;
      done.hidden = true;
      err.hidden = true;
      phoneErr.textContent = '';
    },
  };
}

export function initRatingForm({ onDone }) {
  const form = $('rating-form');
  const thanks = $('thanks');
  const err = $('rating-error');
  let workOrder = null;
  const paintStars = (n) => form.querySelectorAll('.star').forEach((star, i) => star.classList.toggle('on', i < n));

  form.addEventListener('change', (e) => {
    if (e.target.name !== 'rating') return;
    setText($('rating-choice'), `rating.${e.target.value}`);
    paintStars(Number(e.target.value));
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const picked = form.querySelector('input[name="rating"]:checked');
    if (!picked) {
      err.hidden = false;
      setText(err, 'rating.pick');
      form.querySelector('#rating-5').focus();
      return;
    }
    const body = { rating: Number(picked.value) };
    const comment = $('rating-comment').value.trim();
    if (comment) body.comment = comment;
    $('rating-submit').disabled = true;
    try {
      if (workOrder) await post(`/api/help/requests/${encodeURIComponent(workOrder)}/rating`, body);
      form.hidden = true;
      thanks.hidden = false;
      thanks.focus();
    } catch (ex) {
      err.hidden = false;
      err.textContent = ex.status === 0 ? t('error.network') : t('rating.failed', { detail: detailText(ex) || ex.code });
    } finally {
      $('rating-submit').disabled = false;
    }
  });
  $('rating-skip').addEventListener('click', onDone);
  $('help-again').addEventListener('click', onDone);

  return {
    open(info) {
      workOrder = info?.work_order ?? null;
      form.reset();
      form.hidden = false;
      thanks.hidden = true;
      err.hidden = true;
      $('rating-choice').textContent = '';
      paintStars(0);
      const reason = info?.reason === 'dropped' ? 'ended.dropped' : 'ended.normal';
      setText($('ended-reason'), reason);
    },
  };
}
