// Pointing and drawing on the shared view (a screen share or a camera), shown on every side. Marks
// travel in coordinates normalised to the VIDEO FRAME (0..1 of the picture itself, not of the
// element), so a mark lands on the same spot of the picture whatever the size, orientation,
// letterboxing (object-fit) or mirroring of each side's element. Marks fade after FADE_MS unless
// pinned; either side clears. Wire shape (docs/signaling.md `annotate`):
//   {kind: 'pointer'|'arrow'|'circle'|'free'|'clear', id, target: 'screen'|'camera', owner,
//    points: [[x, y], ...], pinned, by}
// `owner` is the member whose camera or screen is marked; `by` (agent|applicant) picks the colour.
// Nothing runs at import time (Node can import the pure helpers).

export const FADE_MS = 4000;
export const MAX_POINTS = 200;
export const POINTER_EVERY_MS = 66; // the live cursor: at most ~15 messages a second
export const KINDS = ['pointer', 'arrow', 'circle', 'free'];
const LEAST = { pointer: 1, free: 1, arrow: 2, circle: 2 };
const COLORS = { agent: '#e4002b', applicant: '#0067c0' };

/** Is the element shown mirrored (a selfie preview with transform: scaleX(-1))? */
export function isMirrored(video) {
  const tf = globalThis.getComputedStyle?.(video).transform || '';
  const m = /^matrix\(([^,]+)/.exec(tf);
  return !!m && Number(m[1]) < 0;
}

/** The picture's box inside the element (object-fit contain, cover, fill, none), in element pixels. */
export function frameBox(video, fit = globalThis.getComputedStyle?.(video).objectFit || 'contain') {
  const W = video.clientWidth, H = video.clientHeight;
  const w = video.videoWidth || W, h = video.videoHeight || H;
  if (!W || !H || !w || !h || fit === 'fill') return { x: 0, y: 0, w: W, h: H };
  let s = fit === 'cover' ? Math.max(W / w, H / h) : Math.min(W / w, H / h);
  if (fit === 'none') s = 1;
  if (fit === 'scale-down') s = Math.min(1, s);
  return { x: (W - w * s) / 2, y: (H - h * s) / 2, w: w * s, h: h * s };
}

const round = (v) => Math.round(v * 10000) / 10000;

/** Element-relative pixels → normalised picture coordinates, or null outside the picture. */
export function normalise(box, px, py, mirrored = false) {
  let x = (px - box.x) / box.w;
  const y = (py - box.y) / box.h;
  if (mirrored) x = 1 - x;
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
  return [round(x), round(y)];
}

/** Normalised picture coordinates → element-relative pixels. */
export function denormalise(box, [x, y], mirrored = false) {
  return [box.x + (mirrored ? 1 - x : x) * box.w, box.y + y * box.h];
}

/** Client (mouse/touch) coordinates → normalised picture coordinates of `video`, or null. */
export function toNormalised(video, clientX, clientY) {
  const rect = video.getBoundingClientRect();
  // getBoundingClientRect includes a CSS transform's scale; clientWidth does not: use the rect.
  const sx = video.clientWidth ? rect.width / video.clientWidth : 1;
  const sy = video.clientHeight ? rect.height / video.clientHeight : 1;
  return normalise(frameBox(video), (clientX - rect.left) / sx, (clientY - rect.top) / sy, isMirrored(video));
}

/** A received mark, or null when malformed (never trust the wire, whichever way it came). */
export function cleanMark(m) {
  if (!m || typeof m !== 'object') return null;
  const target = m.target === 'camera' ? 'camera' : 'screen';
  const owner = typeof m.owner === 'string' ? m.owner.slice(0, 80) : '';
  if (m.kind === 'clear') return { kind: 'clear', target, owner };
  if (!KINDS.includes(m.kind) || !Array.isArray(m.points) || m.points.length > MAX_POINTS) return null;
  if (m.points.length < LEAST[m.kind]) return null;
  const points = [];
  for (const p of m.points) {
    if (!Array.isArray(p) || p.length !== 2) return null;
    const [x, y] = p.map(Number);
    if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
    points.push([x, y]);
  }
  return { kind: m.kind, id: String(m.id || '').slice(0, 64), target, owner, points, pinned: !!m.pinned,
    by: m.by === 'applicant' ? 'applicant' : 'agent' };
}

/**
 * Marks over one `video` on an overlay canvas placed over it (same parent, same box), and drawing with
 * the current tool. `owner`/`target` say whose camera or screen this element shows. Returns
 * {setTool, setPinned, receive, clear, marks, destroy, canvas}.
 */
export function createAnnotator({ video, owner, target = 'screen', me = 'agent', send = () => {},
  label = '', now = () => performance.now() }) {
  const canvas = document.createElement('canvas');
  canvas.className = 'annotate-overlay';
  canvas.dataset.owner = owner;
  canvas.dataset.target = target;
  canvas.setAttribute('role', 'img');
  if (label) canvas.setAttribute('aria-label', label);
  Object.assign(canvas.style, { position: 'absolute', pointerEvents: 'none', touchAction: 'none', zIndex: 3 });
  video.insertAdjacentElement('afterend', canvas);
  const ctx = canvas.getContext('2d');
  const marks = new Map(); // id -> {mark, at}
  let tool = null, pinned = false, drawing = null, frame = 0, seq = 0, lastPointer = 0;

  function fit() {
    const dpr = globalThis.devicePixelRatio || 1;
    const W = video.clientWidth, H = video.clientHeight;
    Object.assign(canvas.style, { left: `${video.offsetLeft}px`, top: `${video.offsetTop}px`, width: `${W}px`,
      height: `${H}px`, display: W && H ? 'block' : 'none' });
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  function draw() {
    frame = 0;
    fit();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const t = now();
    for (const [id, { mark, at }] of marks) {
      const age = t - at;
      if (!mark.pinned && age > FADE_MS) { marks.delete(id); continue; }
      ctx.globalAlpha = mark.pinned ? 1 : Math.max(0, 1 - Math.max(0, age - FADE_MS / 2) / (FADE_MS / 2));
      paint(mark);
    }
    if (drawing) { ctx.globalAlpha = 1; paint(drawing); }
    canvas.dataset.marks = String(marks.size);
    if (marks.size || drawing) schedule();
  }

  function schedule() { if (!frame) frame = requestAnimationFrame(draw); }

  function paint(mark) {
    const box = frameBox(video), mirrored = isMirrored(video);
    const pts = mark.points.map((p) => denormalise(box, p, mirrored));
    ctx.strokeStyle = ctx.fillStyle = COLORS[mark.by] || COLORS.agent;
    ctx.lineWidth = 4;
    ctx.lineCap = ctx.lineJoin = 'round';
    const a = pts[0], b = pts[pts.length - 1];
    ctx.beginPath();
    if (mark.kind === 'pointer') {
      ctx.arc(a[0], a[1], 9, 0, 2 * Math.PI);
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#fff';
      ctx.stroke();
      return;
    }
    if (mark.kind === 'circle') ctx.arc(a[0], a[1], Math.hypot(b[0] - a[0], b[1] - a[1]), 0, 2 * Math.PI);
    else {
      ctx.moveTo(a[0], a[1]);
      for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
    }
    ctx.stroke();
    if (mark.kind === 'arrow' && pts.length > 1) {
      const ang = Math.atan2(b[1] - a[1], b[0] - a[0]);
      ctx.beginPath();
      for (const d of [-0.5, 0.5]) {
        ctx.moveTo(b[0], b[1]);
        ctx.lineTo(b[0] - 18 * Math.cos(ang + d), b[1] - 18 * Math.sin(ang + d));
      }
      ctx.stroke();
    }
  }

  function add(mark) {
    if (mark.kind === 'clear') marks.clear();
    else marks.set(mark.id || `anon-${seq++}`, { mark, at: now() });
    schedule();
  }

  function emit(mark) { add(mark); send(mark); }

  const base = () => ({ target, owner, pinned, by: me });
  const point = (ev) => toNormalised(video, ev.clientX, ev.clientY);

  function onDown(ev) {
    if (!tool) return;
    const p = point(ev);
    if (!p) return;
    ev.preventDefault();
    canvas.setPointerCapture?.(ev.pointerId);
    if (tool === 'pointer') { emit({ ...base(), kind: 'pointer', id: `${me}-ptr`, points: [p], pinned: false }); return; }
    drawing = { ...base(), kind: tool, id: `${me}-${Date.now().toString(36)}-${seq++}`, points: [p] };
    schedule();
  }

  function onMove(ev) {
    if (!tool) return;
    const p = point(ev);
    if (!p) return;
    if (!drawing) {
      // The live cursor follows the mouse (or the finger while down), throttled.
      const t = now();
      if (tool === 'pointer' && (ev.pointerType === 'mouse' || ev.buttons) && t - lastPointer >= POINTER_EVERY_MS) {
        lastPointer = t;
        emit({ ...base(), kind: 'pointer', id: `${me}-ptr`, points: [p], pinned: false });
      }
      return;
    }
    if (drawing.kind === 'free') { if (drawing.points.length < MAX_POINTS) drawing.points.push(p); }
    else drawing.points = [drawing.points[0], p];
    schedule();
  }

  function onUp() {
    if (!drawing) return;
    const mark = drawing;
    drawing = null;
    if (mark.points.length >= LEAST[mark.kind]) emit(mark);
    else schedule();
  }

  // Keyboard: with a tool on, the overlay takes focus; arrows move a cursor over the picture, Enter or
  // Space points there (pointer) or sets the start and then the end (arrow, circle, a straight line).
  let cursor = [0.5, 0.5];
  function onKey(ev) {
    if (!tool) return;
    const step = ev.shiftKey ? 0.1 : 0.02;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[ev.key]) {
      ev.preventDefault();
      cursor = cursor.map((v, i) => round(Math.min(1, Math.max(0, v + moves[ev.key][i]))));
      if (drawing) drawing.points = [drawing.points[0], cursor];
      else marks.set(`${me}-kbd`, { mark: { ...base(), kind: 'pointer', id: `${me}-kbd`, points: [cursor], pinned: false }, at: now() });
      schedule();
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      marks.delete(`${me}-kbd`);
      if (tool === 'pointer') emit({ ...base(), kind: 'pointer', id: `${me}-ptr`, points: [cursor], pinned: false });
      else if (!drawing) drawing = { ...base(), kind: tool, id: `${me}-${Date.now().toString(36)}-${seq++}`, points: [cursor] };
      else { drawing.points = [drawing.points[0], cursor]; onUp(); }
      schedule();
    } else if (ev.key === 'Escape' && drawing) {
      drawing = null;
      schedule();
    }
  }
  canvas.addEventListener('keydown', onKey);
  canvas.addEventListener('pointerdown', onDown);
  canvas.addEventListener('pointermove', onMove);
  canvas.addEventListener('pointerup', onUp);
  canvas.addEventListener('pointercancel', onUp);
  const resize = globalThis.ResizeObserver ? new ResizeObserver(schedule) : null;
  resize?.observe(video);
  video.addEventListener('loadedmetadata', schedule);
  schedule();

  return {
    canvas,
    /** null: no tool (the overlay lets clicks through to the page); else one of KINDS. */
    setTool(kind) {
      tool = KINDS.includes(kind) ? kind : null;
      canvas.style.pointerEvents = tool ? 'auto' : 'none';
      if (tool) canvas.tabIndex = 0;
      else canvas.removeAttribute('tabindex');
      canvas.style.cursor = tool ? 'crosshair' : '';
      canvas.dataset.tool = tool || '';
    },
    setPinned(on) { pinned = !!on; },
    /** A mark from the wire: drawn when it is for this element (owner and target). */
    receive(raw) {
      const m = cleanMark(raw);
      if (m && m.target === target && m.owner === owner) add(m);
      return m;
    },
    clear() { emit({ kind: 'clear', target, owner }); },
    marks: () => [...marks.values()].map((v) => v.mark),
    destroy() {
      resize?.disconnect();
      if (frame) cancelAnimationFrame(frame);
      marks.clear();
      canvas.remove();
    },
  };
}
