// The applicant's callback request form and the post-call rating form.
import { post, detailText } from './api.js';
import { t, setText } from './i18n.js';

const $ = (id) => document.getElementById(id);

function phoneOk(v) {
  const digits = v.replace(/\D/g, '');
  return /^[0-9+\-()\s]{5,32}$/.test(v) && digits.length >= 7;
}

export function initCallbackForm({ item, unit = () => '', onBack }) {
  const form = $('callback-form');
  const done = $('callback-done');
  const err = $('callback-error');
  const phoneErr = $('callback-phone-error');

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    phoneErr.textContent = '';
    const phone = $('callback-phone').value.trim().replace(/\s+/g, ' ');
    if (!phoneOk(phone)) {
      setText(phoneErr, phone ? 'callback.phone_invalid' : 'callback.phone_missing');
      $('callback-phone').setAttribute('aria-invalid', 'true');
      $('callback-phone').focus();
      return;
    }
    $('callback-phone').removeAttribute('aria-invalid');
    const body = { item: item(), phone };
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
      err.textContent = ex.status === 0 ? t('error.network')
        : ex.status === 429 ? t('callback.too_many')  // rate limited: per session, address or number
          : t('callback.failed', { detail: detailText(ex) || ex.code });
    } finally {
      $('callback-submit').disabled = false;
    }
  });
  $('callback-cancel').addEventListener('click', onBack);

  return {
    reset() {
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
