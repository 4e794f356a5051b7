// The search panel beside the call: suggestions for the call's item and hand-off context, search with
// highlighted snippets and paging, "nothing found" with a button to file it for upkeep, the article
// with its files, "send into call", feedback, canned replies. zh-CN and English (kb-i18n.js).
import { KbApi, debounce, fmtSize, h, trustedHtml } from "./kb-api.js";
import { onLangChange, t } from "./kb-i18n.js";

export function mountKbPanel(el, { workOrderId = null, itemId = null, context = "", csrf = "" } = {}) {
  const api = new KbApi({ csrf });
  const state = { q: "", loggedQ: null, page: 1, searchId: null, shown: null, article: null, note: null, filed: null };
  const input = h("input", { type: "search", class: "kb-q" });
  const submit = h("button", { type: "submit" });
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const none = h("div", { class: "kb-none", hidden: true });
  const list = h("ol", { class: "kb-results" });
  const pager = h("div", { class: "kb-pager" });
  const viewer = h("article", { class: "kb-article", hidden: true });
  const summary = h("summary", {});
  const replies = h("ul", { class: "kb-replies" });
  el.replaceChildren(
    h("div", { class: "kb-panel" },
      h("form", { class: "kb-search", onsubmit: (e) => { e.preventDefault(); search(1); } }, input, submit),
      status, none, list, pager, viewer,
      h("details", { class: "kb-replies-box" }, summary, replies)),
  );
  // Live results while typing (not logged); never re-run what was just searched (it would drop its search id).
  input.addEventListener("input", debounce(() => {
    const q = input.value.trim();
    if (q.length >= 2 && q !== state.q) search(1, false);
  }, 400));

  function labels() {
    input.placeholder = t("search.placeholder");
    input.setAttribute("aria-label", t("search.label"));
    submit.textContent = t("search.button");
    summary.textContent = t("replies");
  }

  /** Status lines are kept as [key, args] so a language switch can say them again. */
  function say(key, args) { state.note = [key, args]; status.textContent = t(key, args); }

  function renderHits(hits, { searchId }) {
    list.replaceChildren(...hits.map((hit) => h("li", { class: hit.maybe_related ? "kb-hit kb-maybe" : "kb-hit" },
      h("button", { type: "button", class: "kb-hit-open", onclick: () => open(hit.id, searchId) },
        trustedHtml("span", hit.title_html, { class: "kb-hit-title" })),
      hit.maybe_related ? h("span", { class: "kb-badge kb-badge-maybe" }, t("maybe")) : null,
      hit.guide ? h("span", { class: "kb-badge" }, t("guide")) : null,
      trustedHtml("p", hit.snippet_html, { class: "kb-snippet" }),
      workOrderId && !hit.maybe_related
        ? h("button", { type: "button", class: "kb-send", onclick: () => send({ article_id: hit.id }) }, t("send")) : null,
    )));
  }

  function render() {
    const shown = state.shown;
    if (!shown) return;
    none.hidden = true;
    if (shown.kind === "suggest") {
      say(shown.hits.length ? "suggest.for_call" : "suggest.none");
      renderHits(shown.hits, { searchId: null });
      pager.replaceChildren();
      return;
    }
    const res = shown.res;
    if (res.answer === "none") {
      status.textContent = "";
      state.note = null;
      const filed = state.filed === res.search_id;
      const file = h("button", { type: "button", class: "kb-file", disabled: filed, onclick: () => report(file) },
        t(filed ? "none.filed" : "none.file"));
      none.hidden = false;
      none.replaceChildren(...[
        h("strong", { class: "kb-none-title" }, t("none.title")), " ", h("span", {}, t("none.hint")), " ",
        res.search_id ? file : null,
        res.hits.length ? h("p", { class: "kb-meta" }, t("none.related")) : null].filter(Boolean));
    } else {
      say("search.found", { n: res.total });
    }
    if (res.did_you_mean) {
      status.append(" · " + t("search.dym"), h("button", { type: "button", class: "kb-dym", onclick: () => { input.value = res.did_you_mean; search(1); } }, res.did_you_mean));
    }
    renderHits(res.hits, { searchId: res.search_id });
    const pages = res.answer === "none" ? 0 : Math.ceil(res.total / res.per_page);
    pager.replaceChildren(
      state.page > 1 ? h("button", { type: "button", onclick: () => search(state.page - 1) }, t("pager.prev")) : "",
      pages > 1 ? h("span", {}, ` ${state.page} / ${pages} `) : "",
      state.page < pages ? h("button", { type: "button", onclick: () => search(state.page + 1) }, t("pager.next")) : "",
    );
  }

  async function suggest() {
    if (!itemId && !context) return;
    try {
      const hits = await api.post("/suggest", { item_id: itemId, context, limit: 6 });
      state.shown = { kind: "suggest", hits };
      render();
    } catch (err) { say("suggest.failed", { msg: err.message }); }
  }

  async function search(page, log = true) {
    const q = input.value.trim();
    if (!q) return suggest();
    state.q = q; state.page = page;
    const params = new URLSearchParams({ q, page: String(page), per_page: "8", log: log ? "1" : "0" });
    try {
      const res = await api.get(`/search?${params}`);
      if (log) { state.searchId = res.search_id; state.loggedQ = q; }
      res.search_id = res.search_id || (state.loggedQ === q ? state.searchId : null);
      state.shown = { kind: "search", res };
      render();
    } catch (err) { say("search.failed", { msg: err.message }); }
  }

  async function report(button) {
    try {
      const id = state.shown.res.search_id;
      await api.post(`/search/${id}/report`, {});
      state.filed = id;
      button.disabled = true;
      button.textContent = t("none.filed");
    } catch (err) { say("none.file_failed", { msg: err.message }); }
  }

  async function open(id, searchId) {
    try {
      const a = await api.get(`/articles/${encodeURIComponent(id)}`);
      if (searchId) api.post(`/search/${searchId}/click`, { article_id: id }).catch(() => {});
      state.article = a;
      showArticle();
      viewer.scrollIntoView({ block: "nearest" });
    } catch (err) { say("open.failed", { msg: err.message }); }
  }

  function showArticle() {
    const a = state.article;
    if (!a) return;
    viewer.hidden = false;
    viewer.replaceChildren(
      h("header", {}, h("h3", {}, a.title), h("button", { type: "button", class: "kb-close", "aria-label": t("close"), onclick: () => { viewer.hidden = true; state.article = null; } }, "×")),
      trustedHtml("div", a.html, { class: "kb-body" }),
      a.attachments.length ? h("ul", { class: "kb-files" }, ...a.attachments.map((f) => h("li", {},
        h("a", { href: f.url, download: f.filename }, f.title || f.filename),
        h("span", { class: "kb-meta" }, ` ${t(`kind.${f.kind}`)} · ${fmtSize(f.size)} `),
        workOrderId ? h("button", { type: "button", class: "kb-send", onclick: () => send({ attachment_id: f.id }) }, t("send")) : null,
      ))) : null,
      h("footer", {},
        workOrderId ? h("button", { type: "button", class: "kb-send", onclick: () => send({ article_id: a.id }) }, t("send.link")) : null,
        h("button", { type: "button", onclick: () => feedback(a.id, "helpful") }, t("helpful", { n: a.feedback.helpful })),
        h("button", { type: "button", onclick: () => feedback(a.id, "outdated") }, t("outdated", { n: a.feedback.outdated }))),
    );
  }

  async function send(body) {
    try {
      const res = await api.post(`/calls/${encodeURIComponent(workOrderId)}/send`, body);
      say("sent", { name: res.sent.attachment ? res.sent.attachment.name : res.sent.article.title });
      el.dispatchEvent(new CustomEvent("kb:sent", { detail: res, bubbles: true }));
    } catch (err) { say("send.failed", { msg: err.message }); }
  }

  async function feedback(id, kind) {
    let comment = "";
    if (kind === "outdated") comment = window.prompt(t("outdated.prompt")) || "";
    try { await api.post(`/articles/${encodeURIComponent(id)}/feedback`, { kind, comment }); say("feedback.thanks"); open(id, null); }
    catch (err) { say("feedback.failed", { msg: err.message }); }
  }

  async function loadReplies() {
    try {
      const rows = await api.get(itemId ? `/replies?item=${itemId}` : "/replies");
      replies.replaceChildren(...rows.map((r) => h("li", {}, h("button", {
        type: "button", title: r.text,
        onclick: () => el.dispatchEvent(new CustomEvent("kb:reply", { detail: { text: r.text }, bubbles: true })),
      }, r.title))));
    } catch { replies.replaceChildren(h("li", {}, t("replies.failed"))); }
  }

  onLangChange(() => {
    labels();
    render();
    showArticle();
    if (state.note && !state.shown) status.textContent = t(...state.note);
  });
  labels();
  suggest();
  loadReplies();
  return {
    search: (q) => { input.value = q; return search(1); },
    setCall: (next) => { workOrderId = next.workOrderId ?? workOrderId; itemId = next.itemId ?? itemId; context = next.context ?? context; suggest(); loadReplies(); },
  };
}
