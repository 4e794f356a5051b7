// The article editor: Markdown with a live (server-sanitised) preview, versions, files, and the review
// buttons the server says this user may press (can_review).
import { KbApi, debounce, fmtSize, h, trustedHtml } from "./kb-api.js";

const STATUS = { draft: "草稿", in_review: "待审核", published: "已发布", archived: "已归档" };

export function mountKbEditor(el, { articleId = null, csrf = "", itemIds = [], onSaved = null } = {}) {
  const api = new KbApi({ csrf });
  let article = null;
  const f = {
    title: h("input", { name: "title", required: true, maxlength: 200, placeholder: "标题" }),
    tags: h("input", { name: "tags", placeholder: "标签，用逗号分隔" }),
    items: h("input", { name: "items", placeholder: "事项编号（数字，逗号分隔）" }),
    reviewBy: h("input", { name: "review_by", type: "date" }),
    guide: h("input", { name: "is_guide", type: "checkbox" }),
    note: h("input", { name: "note", placeholder: "本次修改说明" }),
    body: h("textarea", { name: "body", rows: 18, placeholder: "Markdown 正文：## 申请条件 / ## 申请材料 / ## 办理流程 ..." }),
  };
  const preview = h("div", { class: "kb-body kb-preview", "aria-label": "预览" });
  const status = h("div", { class: "kb-status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "kb-actions" });
  const versions = h("ol", { class: "kb-versions" });
  const files = h("ul", { class: "kb-files" });
  const upload = h("input", { type: "file" });
  const kind = h("select", {}, ...Object.entries({ blank_form: "空白表格", sample: "填写样例", image: "图片", other: "其他" })
    .map(([v, t]) => h("option", { value: v }, t)));
  el.replaceChildren(h("div", { class: "kb-editor" },
    h("form", { onsubmit: (e) => { e.preventDefault(); save(); } },
      h("label", {}, "标题 ", f.title), h("label", {}, "标签 ", f.tags), h("label", {}, "事项 ", f.items),
      h("label", {}, "复核日期 ", f.reviewBy), h("label", {}, f.guide, " 作为事项办事指南（申请人可见）"),
      h("div", { class: "kb-split" }, f.body, preview),
      h("label", {}, "修改说明 ", f.note), h("button", { type: "submit" }, "保存草稿")),
    status, actions,
    h("section", {}, h("h4", {}, "附件"), files, h("div", {}, kind, upload, h("button", { type: "button", onclick: sendFile }, "上传"))),
    h("section", {}, h("h4", {}, "版本记录"), versions)));
  f.items.value = itemIds.join(",");
  const refreshPreview = debounce(async () => {
    try { preview.replaceChildren(trustedHtml("div", (await api.post("/preview", { body: f.body.value })).html)); }
    catch (err) { preview.textContent = `预览失败：${err.message}`; }
  }, 300);
  f.body.addEventListener("input", refreshPreview);

  function say(text) { status.textContent = text; }
  const list = (s) => s.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);

  function payload() {
    return {
      title: f.title.value.trim(), body: f.body.value, tags: list(f.tags.value),
      item_ids: list(f.items.value).map(Number).filter(Number.isInteger), review_by: f.reviewBy.value || null,
      is_guide: f.guide.checked, note: f.note.value.trim(),
    };
  }

  function show(a) {
    article = a;
    f.title.value = a.title; f.tags.value = a.tags.join(","); f.items.value = a.item_ids.join(",");
    f.reviewBy.value = a.review_by || ""; f.guide.checked = a.is_guide; f.body.value = a.body; f.note.value = "";
    preview.replaceChildren(trustedHtml("div", a.html));
    say(`${STATUS[a.status] || a.status} · 第 ${a.version} 版${a.published_version ? `（线上为第 ${a.published_version} 版）` : ""}${a.review_comment ? ` · 审核意见：${a.review_comment}` : ""}`);
    const btn = (label, action, needsComment = false) => h("button", { type: "button", onclick: () => transition(action, needsComment) }, label);
    actions.replaceChildren(
      a.status === "draft" ? btn("提交审核", "submit") : "",
      a.can_review && ["draft", "in_review"].includes(a.status) ? btn("审核通过并发布", "publish") : "",
      a.can_review && a.status === "in_review" ? btn("退回修改", "reject", true) : "",
      a.can_review && a.status !== "archived" ? btn("归档", "archive") : "",
      a.can_review && a.status === "archived" ? btn("恢复为草稿", "restore") : "",
    );
    files.replaceChildren(...a.attachments.map((x) => h("li", {}, h("a", { href: x.url, download: x.filename }, x.title || x.filename), ` ${fmtSize(x.size)}`)));
    loadVersions();
  }

  async function load(id) {
    try { show(await api.get(`/articles/${encodeURIComponent(id)}`)); } catch (err) { say(`加载失败：${err.message}`); }
  }

  async function save() {
    try {
      const a = article ? await api.put(`/articles/${article.id}`, payload()) : await api.post("/articles", payload());
      show(a); say("已保存为新版本。");
      if (onSaved) onSaved(a);
    } catch (err) { say(`保存失败：${err.message}`); }
  }

  async function transition(action, needsComment) {
    const comment = needsComment ? window.prompt("审核意见") || "" : "";
    try { show(await api.post(`/articles/${article.id}/${action}`, { comment })); } catch (err) { say(`操作失败：${err.message}`); }
  }

  async function loadVersions() {
    try {
      const rows = await api.get(`/articles/${article.id}/versions`);
      versions.replaceChildren(...rows.map((v) => h("li", {}, h("button", { type: "button", onclick: async () => {
        const full = await api.get(`/articles/${article.id}/versions/${v.version}`);
        f.body.value = full.body; refreshPreview(); say(`已载入第 ${v.version} 版正文（保存后成为新版本）`);
      } }, `第 ${v.version} 版`), ` ${new Date(v.created_at).toLocaleString("zh-CN")} ${v.note}`)));
    } catch { versions.replaceChildren(); }
  }

  async function sendFile() {
    if (!article || !upload.files.length) return say("请先保存文章并选择文件。");
    const form = new FormData();
    form.append("file", upload.files[0]); form.append("kind", kind.value);
    try { await api.upload(`/articles/${article.id}/attachments`, form); upload.value = ""; load(article.id); }
    catch (err) { say(`上传失败：${err.message}`); }
  }

  if (articleId) load(articleId);
  return { load };
}
