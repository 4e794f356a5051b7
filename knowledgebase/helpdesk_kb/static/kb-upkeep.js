// Upkeep (知识库维护更新): stale and flagged articles, unanswered searches (zero results, "nothing
// found" answers, those agents filed), a draft from a work order. zh-CN and English.
import { KbApi, h } from "./kb-api.js";
import { onLangChange, t } from "./kb-i18n.js";

export function mountKbUpkeep(el, { csrf = "", onEdit = null } = {}) {
  const api = new KbApi({ csrf });
  let data = null;
  let note = null;
  const edit = (id) => (onEdit ? onEdit(id) : el.dispatchEvent(new CustomEvent("kb:edit", { detail: { id }, bubbles: true })));
  const wo = h("input", {});
  const notes = h("textarea", { rows: 3 });
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const body = h("div", {});
  el.replaceChildren(h("div", { class: "kb-upkeep" }, status, body));

  function say(key, args) { note = [key, args]; status.textContent = t(key, args); }

  function render() {
    wo.placeholder = t("upkeep.wo");
    notes.placeholder = t("upkeep.notes");
    const th = (k) => h("th", {}, k ? t(k) : "");
    const articles = (data?.articles || []).map((a) => h("tr", {},
      h("td", {}, a.title), h("td", {}, a.reasons.map((r) => t(`reason.${r}`)).join(" · ") + (a.outdated ? ` (${a.outdated})` : "")),
      h("td", {}, a.review_by || ""), h("td", {}, h("button", { type: "button", onclick: () => edit(a.id) }, t("upkeep.edit")))));
    const queries = (data?.queries || []).map((q) => h("tr", {},
      h("td", {}, q.query), h("td", {}, String(q.searches)), h("td", {}, String(q.zero_results)),
      h("td", {}, String(q.no_click)), h("td", {}, q.reported ? String(q.reported) : "")));
    body.replaceChildren(
      h("h4", {}, t("upkeep.articles")),
      h("table", {}, h("thead", {}, h("tr", {}, th("upkeep.col.title"), th("upkeep.col.reason"), th("upkeep.col.review_by"), th())), h("tbody", {}, ...articles)),
      h("h4", {}, t("upkeep.queries")),
      h("table", { class: "kb-upkeep-queries" }, h("thead", {}, h("tr", {}, th("upkeep.col.query"), th("upkeep.col.searches"), th("upkeep.col.zero"), th("upkeep.col.no_click"), th("upkeep.col.reported"))), h("tbody", {}, ...queries)),
      h("h4", {}, t("upkeep.draft")),
      h("form", { onsubmit: (e) => { e.preventDefault(); draft(); } }, wo, notes, h("button", { type: "submit" }, t("upkeep.draft.button"))),
    );
    if (note) status.textContent = t(...note);
  }

  let asked = 0; // an older, slower answer must not overwrite the one after an action
  async function load() {
    const mine = ++asked;
    try {
      const found = await api.get("/upkeep");
      if (mine !== asked) return;
      data = found;
      note = data.articles.length || data.queries.length ? null : ["upkeep.empty"];
      status.textContent = "";
      render();
    } catch (err) { if (mine === asked) say("upkeep.failed", { msg: err.message }); }
  }

  async function draft() {
    try {
      const a = await api.post("/drafts/from-work-order", { work_order_id: wo.value.trim() || null, notes: notes.value });
      say("upkeep.drafted", { title: a.title });
      edit(a.id);
    } catch (err) { say("upkeep.draft_failed", { msg: err.message }); }
  }

  onLangChange(render);
  render();
  load();
  return { reload: load };
}
