// node --test: newestOnly keeps the newest answer when answers come back out of order (no browser).
import { test } from "node:test";
import assert from "node:assert/strict";
import { newestOnly } from "../../../helpdesk/web/static/api.js";

test("an older answer arriving last resolves to null", async () => {
  const answers = {};
  const fetcher = (path) => new Promise((resolve) => { answers[path] = resolve; });
  const load = newestOnly(fetcher);
  const first = load("/items?q=a");
  const second = load("/items?q=ab");
  answers["/items?q=ab"]("newer");
  answers["/items?q=a"]("older");
  assert.equal(await second, "newer");
  assert.equal(await first, null);
});

test("calls one after another each get their answer", async () => {
  const load = newestOnly(async (x) => x * 2);
  assert.equal(await load(1), 2);
  assert.equal(await load(2), 4);
});
