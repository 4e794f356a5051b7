// Remote inspection UI for both sides of the call (plain ES module, no build step).
// Agent:     const ui = inspectionUI({role: 'agent', root, send});  ui.start(workOrder, room);
// Applicant: const ui = inspectionUI({role: 'applicant', root, send, iceServers});
// Both:      socket.onmessage → ui.onMessage(msg) for every msg whose type starts with "inspection.";
//            after a page reload, await ui.resume(workOrder) restores a live inspection.
// `send(obj)` writes one JSON message on the app's WebSocket (used for inspection.signal).
// Applicant option `onCamera(stream | null)`: called with the rear-camera stream once it is open, so
// the call can show it to the agent too (`sender.replaceTrack(stream.getVideoTracks()[0])` on the
// call's own RTCPeerConnection), and with null when the inspection ends (restore the front camera).
// Option `text(key, args)`: the page's translation of the strings below (default: Chinese).

const TEXT_ZH = {
  consent_title: '现场勘验：{item}', accept: '同意并开始', refuse: '拒绝', step: '第 {n} / {total} 项：{title}',
  compliance: '合格标准：{text}', note: '说明', 'result.pass': '合格', 'result.fail': '不合格', 'result.rectify': '需整改',
  snapshot: '截图', title: '现场勘验', 'end.pass': '通过', 'end.rectify': '限期整改', 'end.fail': '不通过',
  deadline: '整改期限', waiting: '等待申请人同意录像……', snapped: '已截图 {point}：{hash}…', refused: '已拒绝，本次未录像。',
  ended: '勘验结束：{outcome}', cancelled: '勘验已取消。', report: '下载报告（PDF）',
};

function zh(key, args = {}) {
  return (TEXT_ZH[key] ?? key).replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m));
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)hd_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

export async function api(method, url, body) {
  const res = await fetch(url, {
    method, credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf()},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.detail || res.statusText), {code: data.error, status: res.status});
  return data;
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return el;
}

export function inspectionUI({role, root, send, iceServers = [], onCamera = () => {}, text = zh, marks = () => []}) {
  const state = {id: null, room: null, points: [], index: 0, marks: {}, pc: null, stream: null};
  const base = () => `/api/inspections/${state.id}`;
  const error = (e) => root.querySelector('.insp-error')?.replaceChildren(e.message || String(e));

  function frame(...children) {
    root.replaceChildren(h('section', {class: 'insp'}, ...children, h('p', {class: 'insp-error', role: 'alert'})));
  }

  // --- applicant ---------------------------------------------------------------------------
  function consentDialog(msg) {
    const answer = async (accept) => {
      let location;
      if (accept && navigator.geolocation) {
        location = await new Promise((ok) => navigator.geolocation.getCurrentPosition(
          (p) => ok({lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy}),
          () => ok(undefined), {timeout: 5000}));
      }
      await api('POST', `${base()}/consent`, {accept, location}).catch(error);
    };
    frame(h('h3', {}, text('consent_title', {item: msg.item})), h('p', {}, msg.notice),
      h('button', {type: 'button', onclick: () => answer(true)}, text('accept')),
      h('button', {type: 'button', onclick: () => answer(false)}, text('refuse')));
  }

  async function openCamera() {
    state.stream = await navigator.mediaDevices.getUserMedia(
      {video: {facingMode: {ideal: 'environment'}, width: {ideal: 1280}}, audio: false});
    const pc = state.pc = new RTCPeerConnection({iceServers});
    for (const track of state.stream.getVideoTracks()) {
      const {sender} = pc.addTransceiver(track, {direction: 'sendonly'});
      // Evidence: on a weak network keep the resolution and drop frames rather than blur.
      const params = sender.getParameters();
      sender.setParameters({...params, degradationPreference: 'maintain-resolution'}).catch(() => {});
    }
    pc.onicecandidate = (e) => send({type: 'inspection.signal', room: state.room, inspection: state.id,
      candidate: e.candidate ? e.candidate.toJSON() : null});
    await pc.setLocalDescription(await pc.createOffer());
    send({type: 'inspection.signal', room: state.room, inspection: state.id,
      description: {type: pc.localDescription.type, sdp: pc.localDescription.sdp}});
    const video = root.querySelector('video.insp-preview');
    if (video) video.srcObject = state.stream;
    onCamera(state.stream);
  }

  function guidance() {
    const p = state.points[state.index];
    if (!p) return;
    frame(h('video', {class: 'insp-preview', autoplay: '', muted: '', playsinline: ''}),
      h('h3', {}, text('step', {n: state.index + 1, total: state.points.length, title: p.title})),
      h('p', {class: 'insp-guidance'}, p.guidance),
      h('p', {class: 'insp-compliance'}, text('compliance', {text: p.compliance})));
    const video = root.querySelector('video.insp-preview');
    if (video && state.stream) video.srcObject = state.stream;
  }

  function closeCamera() {
    if (state.stream) onCamera(null);
    state.pc?.close();
    state.stream?.getTracks().forEach((t) => t.stop());
    state.pc = state.stream = null;
  }

  // --- agent -------------------------------------------------------------------------------
  function panel() {
    const list = h('ol', {class: 'insp-points'}, ...state.points.map((p, i) => {
      const mark = state.marks[p.key];
      const note = h('input', {type: 'text', placeholder: text('note'), 'aria-label': `${p.title} · ${text('note')}`,
        value: mark?.note || ''});
      const markBtn = (result) => h('button', {type: 'button', onclick: () => api('POST', `${base()}/points/${p.key}/mark`,
        {result, note: note.value}).catch(error)}, text(`result.${result}`));
      return h('li', {class: i === state.index ? 'current' : ''},
        h('button', {type: 'button', class: 'insp-point', 'aria-current': i === state.index ? 'step' : 'false',
          onclick: () => api('POST', `${base()}/step`, {index: i}).catch(error)}, p.title),
        h('span', {class: 'insp-mark'}, mark ? ` [${text(`result.${mark.result}`)}]` : ''),
        h('div', {}, h('small', {}, p.compliance)), note,
        markBtn('pass'), markBtn('rectify'), markBtn('fail'),
        // The marks shown over the camera are stored beside the still (the image itself is untouched).
        h('button', {type: 'button', onclick: () => api('POST', `${base()}/points/${p.key}/snapshot`,
          {marks: marks()}).catch(error)}, text('snapshot')));
    }));
    const deadline = h('input', {type: 'date', 'aria-label': text('deadline')});
    const end = (outcome) => api('POST', `${base()}/end`, {outcome,
      rectify_deadline: outcome === 'rectify' && deadline.value ? `${deadline.value}T23:59:59+08:00` : null,
    }).catch(error);
    frame(h('h3', {}, text('title')), list,
      h('div', {class: 'insp-end'}, h('button', {type: 'button', onclick: () => end('pass')}, text('end.pass')),
        h('button', {type: 'button', onclick: () => end('rectify')}, text('end.rectify')), deadline,
        h('button', {type: 'button', onclick: () => end('fail')}, text('end.fail'))));
  }

  async function start(workOrder, room, followUpOf) {
    try {
      const insp = await api('POST', '/api/inspections', {work_order: workOrder, room, follow_up_of: followUpOf});
      state.id = insp.id; state.room = room;
      frame(h('p', {}, text('waiting')));
    } catch (e) { frame(); error(e); }
  }

  // After a page reload: picks up the call's live inspection (the applicant's camera re-offers,
  // which starts a new recording segment on the server).
  async function resume(workOrder) {
    const {inspections} = await api('GET', `/api/inspections?work_order=${encodeURIComponent(workOrder)}`);
    const live = inspections.find((i) => i.status === 'active' || i.status === 'awaiting_consent');
    if (!live) return false;
    const insp = await api('GET', `/api/inspections/${live.id}`);
    Object.assign(state, {id: insp.id, room: insp.room, points: insp.points, index: insp.index,
      marks: insp.marks || {}});
    if (insp.status === 'awaiting_consent') {
      if (role === 'applicant') consentDialog({item: insp.checklist.title, notice: ''});
      else frame(h('p', {}, text('waiting')));
    } else if (role === 'applicant') {
      guidance();
      await openCamera().catch(error);
    } else {
      panel();
    }
    return true;
  }

  // --- messages ----------------------------------------------------------------------------
  async function onMessage(msg) {
    if (!msg.type?.startsWith('inspection.')) return;
    if (msg.inspection) { state.id = msg.inspection; state.room = msg.room ?? state.room; }
    switch (msg.type) {
      case 'inspection.requested':
        if (role === 'applicant') consentDialog(msg); else frame(h('p', {}, text('waiting')));
        break;
      case 'inspection.started':
        Object.assign(state, {points: msg.points, index: msg.index, marks: {}});
        if (role === 'applicant') { guidance(); await openCamera().catch(error); } else panel();
        break;
      case 'inspection.point':
        Object.assign(state, {index: msg.index, marks: msg.marks});
        role === 'applicant' ? guidance() : panel();
        break;
      case 'inspection.snapshot':
        if (role === 'agent') root.querySelector('.insp-error')?.replaceChildren(
          text('snapped', {point: msg.point, hash: msg.sha256.slice(0, 12)}));
        break;
      case 'inspection.signal':
        if (role === 'applicant' && state.pc && msg.description) await state.pc.setRemoteDescription(msg.description);
        break;
      case 'inspection.ended':
        closeCamera();
        frame(h('p', {}, msg.status === 'refused' ? text('refused')
          : msg.outcome ? text('ended', {outcome: text(`end.${msg.outcome}`)}) : text('cancelled')),
          msg.outcome ? h('a', {href: `/api/inspections/${msg.inspection}/report.pdf`}, text('report')) : '');
        break;
    }
  }

  return {onMessage, start, resume, state};
}
