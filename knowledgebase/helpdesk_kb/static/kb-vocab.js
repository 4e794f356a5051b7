// The vocabulary editor (词表): applicants' words → the guides' words, used by search at once.
// Everyone sees it; KB editors, supervisors and admins change it (the server checks). zh-CN and English.
import { KbApi, debounce, h } from "./kb-api.js";
import { onLangChange, t } from "./kb-i18n.js";

const KINDS = ["colloquial", "abbreviation", "synonym", "old_name", "typo", "section"];

export function mountKbVocab(el, { csrf = "" } = {}) {
  const api = new KbApi({ csrf });
  let rows = [];
  let editing = null; // the row being edited (id null: a shipped entry)
  let note = null;
  const filter = h("input", { type: "search", class: "kb-q" });
  const f = {
    term: h("input", { name: "term", required: true, maxlength: 50 }),
    expansions: h("input", { name: "expansions", required: false, maxlength: 500 }),
    kind: h("select", { name: "kind" }),
    note: h("input", { name: "note", maxlength: 200 }),
    enabled: h("input", { name: "enabled", type: "checkbox", checked: true }),
  };
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const form = h("form", { onsubmit: (e) => { e.preventDefault(); save(); } });
  const table = h("table", {});
  const title = h("h4", {});
  const hint = h("p", { class: "kb-meta" });
  el.replaceChildren(h("div", { class: "kb-vocab" }, title, hint, form, filter, status, table));
  filter.addEventListener("input", debounce(load, 300));

  function say(key, args) { note = [key, args]; status.textContent = t(key, args); }

  function render() {
    title.textContent = t("vocab.title");
    hint.textContent = t("vocab.hint");
    filter.placeholder = t("vocab.filter");
    filter.setAttribute("aria-label", t("vocab.filter"));
    const kind = f.kind.value || "synonym";
    f.kind.replaceChildren(...KINDS.map((k) => h("option", { value: k }, t(`kind.${k}`))));
    f.kind.value = kind;
    form.replaceChildren(
      h("label", {}, t("vocab.term"), f.term),
      h("label", {}, t("vocab.expansions"), f.expansions),
      h("label", {}, t("vocab.kind"), f.kind),
      h("label", {}, t("vocab.note"), f.note),
      h("label", {}, h("span", {}, f.enabled, " ", t("vocab.enabled"))),
      h("div", {}, h("button", { type: "submit" }, t("vocab.save")), " ",
        h("button", { type: "button", onclick: () => fill(null) }, t("vocab.new"))),
    );
    const th = (k) => h("th", {}, k ? t(k) : "");
    table.replaceChildren(
      h("thead", {}, h("tr", {}, th("vocab.term"), th("vocab.expansions"), th("vocab.kind"), th("vocab.col.source"), th("vocab.col.who"), th())),
      h("tbody", {}, ...rows.map((r) => h("tr", { class: r.enabled ? "" : "kb-off" },
        h("td", {}, r.term), h("td", {}, r.expansions.join("；")), h("td", {}, t(`kind.${r.kind}`)),
        h("td", {}, r.source === "shipped" ? t("vocab.shipped") : r.enabled ? t("vocab.edited") : t("vocab.off")),
        h("td", { class: "kb-meta" }, r.updated_at ? `${r.updated_by_name || r.updated_by || ""} · ${new Date(r.updated_at).toLocaleString(document.documentElement.lang || "zh-CN")}` : ""),
        h("td", {},
          h("button", { type: "button", onclick: () => fill(r) }, t("vocab.edit")),
          r.id ? h("button", { type: "button", onclick: () => remove(r) }, r.shipped ? t("vocab.revert") : t("vocab.delete")) : null)))),
    );
    if (note) status.textContent = t(...note);
  }

  function fill(r) {
    editing = r;
    f.term.value = r ? r.term : "";
    f.expansions.value = r ? r.expansions.join("；") : "";
    f.kind.value = r ? r.kind : "synonym";
    f.note.value = r ? r.note || "" : "";
    f.enabled.checked = r ? r.enabled : true;
    f.term.focus();
  }

  let asked = 0; // a slower, older answer (e.g. the first list, after a save) must not overwrite a newer one
  async function load() {
    const mine = ++asked;
    try {
      const found = await api.get(`/vocabulary?${new URLSearchParams({ q: filter.value.trim(), limit: "300" })}`);
      if (mine !== asked) return;
      rows = found;
      render();
    } catch (err) { if (mine === asked) say("vocab.failed", { msg: err.message }); }
  }

  async function save() {
    const body = {
      term: f.term.value.trim(),
      expansions: f.expansions.value.split(/[;；,，、\s]+/).map((x) => x.trim()).filter(Boolean),
      kind: f.kind.value, note: f.note.value.trim(), enabled: f.enabled.checked,
    };
    try {
      const saved = editing?.id ? await api.put(`/vocabulary/${editing.id}`, body) : await api.post("/vocabulary", body);
      say("vocab.saved", { term: saved.term });
      fill(null);
      load();
    } catch (err) { say("vocab.failed", { msg: err.message }); }
  }

  async function remove(r) {
    try { await api.del(`/vocabulary/${r.id}`); say("vocab.deleted"); load(); }
    catch (err) { say("vocab.failed", { msg: err.message }); }
  }

  onLangChange(render);
  render();
  load();
  return { reload: load };
}
