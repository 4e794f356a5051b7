// The article editor: Markdown with a live (server-sanitised) preview, versions, files, and the review
// buttons the server says this user may press (can_review). zh-CN and English (kb-i18n.js): texts carry
// their key (data-k, data-kp for placeholders) and are said again when the console switches language.
import { KbApi, debounce, fmtSize, h, trustedHtml } from "./kb-api.js";
import { lang, onLangChange, t } from "./kb-i18n.js";

const L = (key) => h("span", { "data-k": key }, t(key));

export function mountKbEditor(el, { articleId = null, csrf = "", itemIds = [], onSaved = null } = {}) {
  const api = new KbApi({ csrf });
  let article = null;
  const f = {
    title: h("input", { name: "title", required: true, maxlength: 200, "data-kp": "editor.title" }),
    tags: h("input", { name: "tags", "data-kp": "editor.tags.ph" }),
    items: h("input", { name: "items", "data-kp": "editor.items.ph" }),
    reviewBy: h("input", { name: "review_by", type: "date" }),
    guide: h("input", { name: "is_guide", type: "checkbox" }),
    note: h("input", { name: "note", "data-kp": "editor.note.ph" }),
    body: h("textarea", { name: "body", rows: 18, "data-kp": "editor.body.ph" }),
  };
  const preview = h("div", { class: "kb-body kb-preview", "data-kl": "editor.preview" });
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "kb-actions" });
  const versions = h("ol", { class: "kb-versions" });
  const files = h("ul", { class: "kb-files" });
  const upload = h("input", { type: "file" });
  const kind = h("select", {}, ...["blank_form", "sample", "image", "other"]
    .map((v) => h("option", { value: v, "data-k": `kind.${v}` }, t(`kind.${v}`))));
  el.replaceChildren(h("div", { class: "kb-editor" },
    h("form", { onsubmit: (e) => { e.preventDefault(); save(); } },
      h("label", {}, L("editor.title"), " ", f.title), h("label", {}, L("editor.tags"), " ", f.tags),
      h("label", {}, L("editor.items"), " ", f.items),
      h("label", {}, L("editor.review_by"), " ", f.reviewBy), h("label", {}, f.guide, " ", L("editor.guide")),
      h("div", { class: "kb-split" }, f.body, preview),
      h("label", {}, L("editor.note"), " ", f.note), h("button", { type: "submit" }, L("editor.save"))),
    status, actions,
    h("section", {}, h("h4", {}, L("editor.files")), files, h("div", {}, kind, upload, h("button", { type: "button", onclick: sendFile }, L("editor.upload")))),
    h("section", {}, h("h4", {}, L("editor.versions")), versions)));
  let note = null;
  function relabel() {
    el.querySelectorAll("[data-k]").forEach((x) => { x.textContent = t(x.dataset.k); });
    el.querySelectorAll("[data-kp]").forEach((x) => { x.placeholder = t(x.dataset.kp); });
    el.querySelectorAll("[data-kl]").forEach((x) => { x.setAttribute("aria-label", t(x.dataset.kl)); });
    if (note) status.textContent = t(...note);
  }
  onLangChange(() => { relabel(); if (article) show(article, true); });
  relabel();
  f.items.value = itemIds.join(",");
  const refreshPreview = debounce(async () => {
    try { preview.replaceChildren(trustedHtml("div", (await api.post("/preview", { body: f.body.value })).html)); }
    catch (err) { preview.textContent = t("editor.preview_failed", { msg: err.message }); }
  }, 300);
  f.body.addEventListener("input", refreshPreview);

  function say(key, args) { note = [key, args]; status.textContent = t(key, args); }
  const list = (s) => s.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);

  function payload() {
    return {
      title: f.title.value.trim(), body: f.body.value, tags: list(f.tags.value),
      item_ids: list(f.items.value).map(Number).filter(Number.isInteger), review_by: f.reviewBy.value || null,
      is_guide: f.guide.checked, note: f.note.value.trim(),
    };
  }

  function show(a, labelsOnly = false) {
    article = a;
    if (!labelsOnly) {
      f.title.value = a.title; f.tags.value = a.tags.join(","); f.items.value = a.item_ids.join(",");
      f.reviewBy.value = a.review_by || ""; f.guide.checked = a.is_guide; f.body.value = a.body; f.note.value = "";
      preview.replaceChildren(trustedHtml("div", a.html));
    }
    say("editor.state", {
      status: t(`status.${a.status}`), v: a.version,
      live: a.published_version ? t("editor.live", { v: a.published_version }) : "",
      comment: a.review_comment ? t("editor.comment", { c: a.review_comment }) : "",
    });
    const btn = (key, action, needsComment = false) => h("button", { type: "button", onclick: () => transition(action, needsComment) }, t(key));
    actions.replaceChildren(
      a.status === "draft" ? btn("editor.submit", "submit") : "",
      a.can_review && ["draft", "in_review"].includes(a.status) ? btn("editor.publish", "publish") : "",
      a.can_review && a.status === "in_review" ? btn("editor.reject", "reject", true) : "",
      a.can_review && a.status !== "archived" ? btn("editor.archive", "archive") : "",
      a.can_review && a.status === "archived" ? btn("editor.restore", "restore") : "",
    );
    if (labelsOnly) return;
    files.replaceChildren(...a.attachments.map((x) => h("li", {}, h("a", { href: x.url, download: x.filename }, x.title || x.filename), ` ${fmtSize(x.size)}`)));
    loadVersions();
  }

  async function load(id) {
    try { show(await api.get(`/articles/${encodeURIComponent(id)}`)); } catch (err) { say("editor.load_failed", { msg: err.message }); }
  }

  async function save() {
    try {
      const a = article ? await api.put(`/articles/${article.id}`, payload()) : await api.post("/articles", payload());
      show(a); say("editor.saved");
      if (onSaved) onSaved(a);
    } catch (err) { say("editor.save_failed", { msg: err.message }); }
  }

  async function transition(action, needsComment) {
    const comment = needsComment ? window.prompt(t("editor.comment_prompt")) || "" : "";
    try { show(await api.post(`/articles/${article.id}/${action}`, { comment })); } catch (err) { say("vocab.failed", { msg: err.message }); }
  }

  async function loadVersions() {
    try {
      const rows = await api.get(`/articles/${article.id}/versions`);
      versions.replaceChildren(...rows.map((v) => h("li", {}, h("button", { type: "button", onclick: async () => {
        const full = await api.get(`/articles/${article.id}/versions/${v.version}`);
        f.body.value = full.body; refreshPreview(); say("editor.version_loaded", { v: v.version });
      } }, t("editor.version", { v: v.version })), ` ${new Date(v.created_at).toLocaleString(lang())} ${v.note}`)));
    } catch { versions.replaceChildren(); }
  }

  async function sendFile() {
    if (!article || !upload.files.length) return say("editor.upload_first");
    const form = new FormData();
    form.append("file", upload.files[0]); form.append("kind", kind.value);
    try { await api.upload(`/articles/${article.id}/attachments`, form); upload.value = ""; load(article.id); }
    catch (err) { say("editor.upload_failed", { msg: err.message }); }
  }

  if (articleId) load(articleId);
  return { load };
}
