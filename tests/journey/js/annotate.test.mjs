// node --test: the pure geometry and validation of helpdesk/web/static/annotate.js (#19).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanMark, denormalise, frameBox, normalise } from "../../../helpdesk/web/static/annotate.js";

const video = (W, H, w, h) => ({ clientWidth: W, clientHeight: H, videoWidth: w, videoHeight: h });

test("frameBox letterboxes a 4:3 picture in a tall phone element (contain) and crops for cover", () => {
  assert.deepEqual(frameBox(video(390, 520, 640, 480), "contain"), { x: 0, y: 113.75, w: 390, h: 292.5 });
  const cover = frameBox(video(390, 520, 640, 480), "cover");
  assert.equal(cover.h, 520);
  assert.ok(cover.x < 0 && Math.abs(cover.w - 693.33) < 0.01);
  assert.deepEqual(frameBox(video(300, 200, 640, 480), "fill"), { x: 0, y: 0, w: 300, h: 200 });
});

test("a spot of the picture maps to the same normalised point at any element size", () => {
  const phone = frameBox(video(390, 520, 640, 480), "contain");
  const tablet = frameBox(video(1180, 600, 640, 480), "contain");
  for (const p of [[0.25, 0.5], [0.7, 0.3], [0, 1]]) {
    const [px, py] = denormalise(phone, p);
    assert.deepEqual(normalise(phone, px, py), p);
    const [tx, ty] = denormalise(tablet, p);
    assert.deepEqual(normalise(tablet, tx, ty), p);
  }
  // mirrored (a selfie preview): the same picture point is on the other side of the element
  const [mx] = denormalise(phone, [0.25, 0.5], true);
  assert.equal(mx, 390 * 0.75);
  assert.deepEqual(normalise(phone, mx, 260, true), [0.25, 0.5]);
  assert.equal(normalise(phone, 10, 50), null); // in the letterbox band: outside the picture
});

test("cleanMark refuses what the server would refuse", () => {
  assert.equal(cleanMark({ kind: "arrow", points: [[0.1, 0.2]] }), null); // an arrow needs two points
  assert.equal(cleanMark({ kind: "free", points: [[0.1, 1.2]] }), null); // off the frame
  assert.equal(cleanMark({ kind: "laser", points: [[0.1, 0.2]] }), null);
  assert.equal(cleanMark({ kind: "free", points: Array(201).fill([0.5, 0.5]) }), null);
  const m = cleanMark({ kind: "circle", id: "x", owner: "a:1", target: "camera", points: [[0.5, 0.5], [0.6, 0.5]],
    pinned: 1, by: "applicant", extra: "<b>" });
  assert.deepEqual(m, { kind: "circle", id: "x", target: "camera", owner: "a:1", points: [[0.5, 0.5], [0.6, 0.5]],
    pinned: true, by: "applicant" });
  assert.deepEqual(cleanMark({ kind: "clear", target: "screen", owner: "s:2" }),
    { kind: "clear", target: "screen", owner: "s:2" });
});
