// Upkeep (知识库维护更新): stale and flagged articles, unanswered searches, a draft from a work order.
import { KbApi, h } from "./kb-api.js";

const REASON = { past_review: "超过复核日期", outdated: "被标记过时" };

export function mountKbUpkeep(el, { csrf = "", onEdit = null } = {}) {
  const api = new KbApi({ csrf });
  const articles = h("tbody");
  const queries = h("tbody");
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const wo = h("input", { placeholder: "工单号（ID）" });
  const notes = h("textarea", { rows: 3, placeholder: "或直接粘贴处理记录" });
  const edit = (id) => (onEdit ? onEdit(id) : el.dispatchEvent(new CustomEvent("kb:edit", { detail: { id }, bubbles: true })));
  el.replaceChildren(h("div", { class: "kb-upkeep" },
    status,
    h("h4", {}, "需要维护的文章"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "标题"), h("th", {}, "原因"), h("th", {}, "复核日期"), h("th", {}, ""))), articles),
    h("h4", {}, "没有找到答案的搜索（近30天）"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "搜索词"), h("th", {}, "次数"), h("th", {}, "无结果"), h("th", {}, "无点击"))), queries),
    h("h4", {}, "从工单起草文章"),
    h("form", { onsubmit: (e) => { e.preventDefault(); draft(); } }, wo, notes, h("button", { type: "submit" }, "起草")),
  ));

  async function load() {
    try {
      const data = await api.get("/upkeep");
      articles.replaceChildren(...data.articles.map((a) => h("tr", {},
        h("td", {}, a.title), h("td", {}, a.reasons.map((r) => REASON[r] || r).join("、") + (a.outdated ? `（${a.outdated}）` : "")),
        h("td", {}, a.review_by || ""), h("td", {}, h("button", { type: "button", onclick: () => edit(a.id) }, "修改")))));
      queries.replaceChildren(...data.queries.map((q) => h("tr", {},
        h("td", {}, q.query), h("td", {}, String(q.searches)), h("td", {}, String(q.zero_results)), h("td", {}, String(q.no_click)))));
      status.textContent = data.articles.length || data.queries.length ? "" : "暂无待维护内容。";
    } catch (err) { status.textContent = `加载失败：${err.message}`; }
  }

  async function draft() {
    try {
      const a = await api.post("/drafts/from-work-order", { work_order_id: wo.value.trim() || null, notes: notes.value });
      status.textContent = `已起草：${a.title}`;
      edit(a.id);
    } catch (err) { status.textContent = `起草失败：${err.message}`; }
  }

  load();
  return { reload: load };
}
