// The search panel beside the call: suggestions for the call's item and hand-off context, search with
// highlighted snippets and paging, the article with its files, "send into call", feedback, canned replies.
import { KbApi, debounce, fmtSize, h, trustedHtml } from "./kb-api.js";

const KIND_LABEL = { blank_form: "空白表格", sample: "填写样例", image: "图片", other: "附件" };

export function mountKbPanel(el, { workOrderId = null, itemId = null, context = "", csrf = "" } = {}) {
  const api = new KbApi({ csrf });
  const state = { q: "", page: 1, searchId: null };
  const input = h("input", { type: "search", class: "kb-q", placeholder: "搜索知识库，如：营业执照怎么变更", "aria-label": "搜索知识库" });
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const list = h("ol", { class: "kb-results" });
  const pager = h("div", { class: "kb-pager" });
  const viewer = h("article", { class: "kb-article", hidden: true });
  const replies = h("ul", { class: "kb-replies" });
  el.replaceChildren(
    h("div", { class: "kb-panel" },
      h("form", { class: "kb-search", onsubmit: (e) => { e.preventDefault(); search(1); } }, input,
        h("button", { type: "submit" }, "搜索")),
      status, list, pager, viewer,
      h("details", { class: "kb-replies-box" }, h("summary", {}, "快捷回复"), replies)),
  );
  input.addEventListener("input", debounce(() => { if (input.value.trim().length >= 2) search(1, false); }, 400));

  function say(text) { status.textContent = text; }

  function renderHits(hits, { logged }) {
    list.replaceChildren(...hits.map((hit) => h("li", { class: "kb-hit" },
      h("button", { type: "button", class: "kb-hit-open", onclick: () => open(hit.id, logged ? state.searchId : null) },
        trustedHtml("span", hit.title_html, { class: "kb-hit-title" })),
      hit.guide ? h("span", { class: "kb-badge" }, "办事指南") : null,
      trustedHtml("p", hit.snippet_html, { class: "kb-snippet" }),
      workOrderId ? h("button", { type: "button", class: "kb-send", onclick: () => send({ article_id: hit.id }) }, "发送到通话") : null,
    )));
  }

  async function suggest() {
    if (!itemId && !context) return;
    try {
      const hits = await api.post("/suggest", { item_id: itemId, context, limit: 6 });
      say(hits.length ? "为本次通话推荐：" : "暂无推荐文章，请直接搜索。");
      renderHits(hits, { logged: false });
    } catch (err) { say(`推荐加载失败：${err.message}`); }
  }

  async function search(page, log = true) {
    const q = input.value.trim();
    if (!q) return suggest();
    state.q = q; state.page = page;
    const params = new URLSearchParams({ q, page: String(page), per_page: "8", log: log ? "1" : "0" });
    try {
      const res = await api.get(`/search?${params}`);
      state.searchId = res.search_id;
      const parts = [res.total_exact ? `找到 ${res.total} 篇` : `找到约 ${res.total} 篇`];
      say(parts.join(""));
      if (res.did_you_mean) {
        status.append(" · 您是不是要找：", h("button", { type: "button", class: "kb-dym", onclick: () => { input.value = res.did_you_mean; search(1); } }, res.did_you_mean));
      }
      renderHits(res.hits, { logged: true });
      const pages = Math.ceil(res.total / res.per_page);
      pager.replaceChildren(
        page > 1 ? h("button", { type: "button", onclick: () => search(page - 1) }, "上一页") : "",
        pages > 1 ? h("span", {}, ` ${page} / ${pages} `) : "",
        page < pages ? h("button", { type: "button", onclick: () => search(page + 1) }, "下一页") : "",
      );
    } catch (err) { say(`搜索失败：${err.message}`); }
  }

  async function open(id, searchId) {
    try {
      const a = await api.get(`/articles/${encodeURIComponent(id)}`);
      if (searchId) api.post(`/search/${searchId}/click`, { article_id: id }).catch(() => {});
      viewer.hidden = false;
      viewer.replaceChildren(
        h("header", {}, h("h3", {}, a.title), h("button", { type: "button", class: "kb-close", "aria-label": "关闭", onclick: () => { viewer.hidden = true; } }, "×")),
        trustedHtml("div", a.html, { class: "kb-body" }),
        a.attachments.length ? h("ul", { class: "kb-files" }, ...a.attachments.map((f) => h("li", {},
          h("a", { href: f.url, download: f.filename }, f.title || f.filename),
          h("span", { class: "kb-meta" }, ` ${KIND_LABEL[f.kind] || "附件"} · ${fmtSize(f.size)} `),
          workOrderId ? h("button", { type: "button", class: "kb-send", onclick: () => send({ attachment_id: f.id }) }, "发送到通话") : null,
        ))) : null,
        h("footer", {},
          workOrderId ? h("button", { type: "button", class: "kb-send", onclick: () => send({ article_id: a.id }) }, "发送文章链接") : null,
          h("button", { type: "button", onclick: () => feedback(a.id, "helpful") }, `有帮助 (${a.feedback.helpful})`),
          h("button", { type: "button", onclick: () => feedback(a.id, "outdated") }, `内容过时 (${a.feedback.outdated})`)),
      );
      viewer.scrollIntoView({ block: "nearest" });
    } catch (err) { say(`打开失败：${err.message}`); }
  }

  async function send(body) {
    try {
      const res = await api.post(`/calls/${encodeURIComponent(workOrderId)}/send`, body);
      say(`已发送：${res.sent.attachment ? res.sent.attachment.name : res.sent.article.title}`);
      el.dispatchEvent(new CustomEvent("kb:sent", { detail: res, bubbles: true }));
    } catch (err) { say(`发送失败：${err.message}`); }
  }

  async function feedback(id, kind) {
    let comment = "";
    if (kind === "outdated") comment = window.prompt("哪里过时了？（可选）") || "";
    try { await api.post(`/articles/${encodeURIComponent(id)}/feedback`, { kind, comment }); say("已记录，谢谢反馈。"); open(id, null); }
    catch (err) { say(`反馈失败：${err.message}`); }
  }

  async function loadReplies() {
    try {
      const rows = await api.get(itemId ? `/replies?item=${itemId}` : "/replies");
      replies.replaceChildren(...rows.map((r) => h("li", {}, h("button", {
        type: "button", title: r.text,
        onclick: () => el.dispatchEvent(new CustomEvent("kb:reply", { detail: { text: r.text }, bubbles: true })),
      }, r.title))));
    } catch { replies.replaceChildren(h("li", {}, "快捷回复加载失败")); }
  }

  suggest();
  loadReplies();
  return {
    search: (q) => { input.value = q; return search(1); },
    setCall: (next) => { workOrderId = next.workOrderId ?? workOrderId; itemId = next.itemId ?? itemId; context = next.context ?? context; suggest(); loadReplies(); },
  };
}
