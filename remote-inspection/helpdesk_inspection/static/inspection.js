// Remote inspection UI for both sides of the call (plain ES module, no build step).
// Agent:     const ui = inspectionUI({role: 'agent', root, send});  ui.start(workOrder, room);
// Applicant: const ui = inspectionUI({role: 'applicant', root, send, iceServers});
// Both:      socket.onmessage → ui.onMessage(msg) for every msg whose type starts with "inspection.";
//            after a page reload, await ui.resume(workOrder) restores a live inspection.
// `send(obj)` writes one JSON message on the app's WebSocket (used for inspection.signal).
// Applicant option `onCamera(stream | null)`: called with the rear-camera stream once it is open, so
// the call can show it to the agent too (`sender.replaceTrack(stream.getVideoTracks()[0])` on the
// call's own RTCPeerConnection), and with null when the inspection ends (restore the front camera).

const RESULT_ZH = {pass: '合格', fail: '不合格', rectify: '需整改'};

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

export function inspectionUI({role, root, send, iceServers = [], onCamera = () => {}, marks = () => []}) {
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
    frame(h('h3', {}, `现场勘验：${msg.item}`), h('p', {}, msg.notice),
      h('button', {onclick: () => answer(true)}, '同意并开始'),
      h('button', {onclick: () => answer(false)}, '拒绝'));
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
      h('h3', {}, `第 ${state.index + 1} / ${state.points.length} 项：${p.title}`),
      h('p', {class: 'insp-guidance'}, p.guidance),
      h('p', {class: 'insp-compliance'}, `合格标准：${p.compliance}`));
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
      const note = h('input', {placeholder: '说明', value: mark?.note || ''});
      const markBtn = (result) => h('button', {onclick: () => api('POST', `${base()}/points/${p.key}/mark`,
        {result, note: note.value}).catch(error)}, RESULT_ZH[result]);
      return h('li', {class: i === state.index ? 'current' : ''},
        h('b', {onclick: () => api('POST', `${base()}/step`, {index: i}).catch(error)}, p.title),
        h('span', {class: 'insp-mark'}, mark ? ` [${RESULT_ZH[mark.result]}]` : ''),
        h('div', {}, h('small', {}, p.compliance)), note,
        markBtn('pass'), markBtn('rectify'), markBtn('fail'),
        // The marks shown over the camera are stored beside the still (the image itself is untouched).
        h('button', {onclick: () => api('POST', `${base()}/points/${p.key}/snapshot`, {marks: marks()}).catch(error)},
          '截图'));
    }));
    const deadline = h('input', {type: 'date'});
    const end = (outcome) => api('POST', `${base()}/end`, {outcome,
      rectify_deadline: outcome === 'rectify' && deadline.value ? `${deadline.value}T23:59:59+08:00` : null,
    }).catch(error);
    frame(h('h3', {}, '现场勘验'), list,
      h('div', {class: 'insp-end'}, h('button', {onclick: () => end('pass')}, '通过'),
        h('button', {onclick: () => end('rectify')}, '限期整改'), deadline,
        h('button', {onclick: () => end('fail')}, '不通过')));
  }

  async function start(workOrder, room, followUpOf) {
    try {
      const insp = await api('POST', '/api/inspections', {work_order: workOrder, room, follow_up_of: followUpOf});
      state.id = insp.id; state.room = room;
      frame(h('p', {}, '等待申请人同意录像……'));
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
      else frame(h('p', {}, '等待申请人同意录像……'));
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
        if (role === 'applicant') consentDialog(msg); else frame(h('p', {}, '等待申请人同意录像……'));
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
        if (role === 'agent') root.querySelector('.insp-error')?.replaceChildren(`已截图 ${msg.point}：${msg.sha256.slice(0, 12)}…`);
        break;
      case 'inspection.signal':
        if (role === 'applicant' && state.pc && msg.description) await state.pc.setRemoteDescription(msg.description);
        break;
      case 'inspection.ended':
        closeCamera();
        frame(h('p', {}, msg.status === 'refused' ? '已拒绝，本次未录像。'
          : msg.outcome ? `勘验结束：${{pass: '通过', rectify: '限期整改', fail: '不通过'}[msg.outcome]}`
          : '勘验已取消。'),
          msg.outcome ? h('a', {href: `/api/inspections/${msg.inspection}/report.pdf`}, '下载报告（PDF）') : '');
        break;
    }
  }

  return {onMessage, start, resume, state};
}
