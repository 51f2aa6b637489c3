// The console shell: sign-in, what the token may see, and hash routing between the views.

import { ApiError, clearCache, detectRole, session } from "./api.js";
import { bi, fill, h, message } from "./dom.js";
import { forgetModels, loadModels } from "./models.js";
import { renderAnnual } from "./annual.js";
import { renderQueues } from "./queues.js";
import { renderSubject } from "./subject.js";
import { renderSync } from "./sync.js";
import { renderWorklist } from "./worklist.js";

const ROLE_NAMES = {
  admin: ["管理员", "admin"],
  recorder: ["记录部门", "recorder"],
  reader: ["查询部门", "reader"],
  auditor: ["审计", "auditor"],
  platform: ["信用平台", "platform"],
};
const VIEWS = {
  subject: renderSubject,
  worklist: renderWorklist,
  queues: renderQueues,
  annual: renderAnnual,
  sync: renderSync,
};

const $ = (id) => document.getElementById(id);
let caps = null;
// The view on screen (view, args and query): moving to the same place keeps the page as it is,
// so a nav click racing a half-typed search never wipes the search box.
let shown = null;

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const query = cut < 0 ? "" : raw.slice(cut + 1);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || "subject", args: parts.slice(1), params: new URLSearchParams(query) };
}

/** The hash for a view: #/view/arg?key=value (empty values left out). */
export function link(view, args = [], params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const path = [view, ...args].map(encodeURIComponent).join("/");
  const q = query.toString();
  return `#/${path}${q ? `?${q}` : ""}`;
}

/** Navigate; with replace the history entry is replaced and the view re-rendered. */
export function go(view, args = [], params = {}, { replace = false } = {}) {
  const hash = link(view, args, params);
  if (replace) {
    window.history.replaceState(null, "", hash);
    render(true);
  } else if (window.location.hash === hash) {
    render(true);
  } else {
    window.location.hash = hash;
  }
}

function render(force = false) {
  const view = $("view");
  if (!caps) return;
  if (!caps.canRead) {
    fill(
      view,
      h(
        "section",
        { class: "panel", id: "no-access" },
        h("h2", {}, bi("此令牌不能查询评价", "This token cannot read evaluations")),
        message(
          "info",
          "信用平台令牌只能提交异议和信用修复申请；本控制台需要 reader、recorder、auditor 或 admin 令牌。",
          h("br"),
          h("small", {}, "A platform token files objections and repair requests only; the console needs a reader, recorder, auditor or admin token."),
        ),
      ),
    );
    return;
  }
  const { view: name, args, params } = parseHash();
  const renderView = VIEWS[name] || renderSubject;
  const place = JSON.stringify([VIEWS[name] ? name : "subject", args, params.toString()]);
  if (!force && place === shown && $("view").firstChild) return;
  shown = place;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === (VIEWS[name] ? name : "subject"));
  }
  if (renderView === renderSubject && args[0]) {
    // The nav link goes back to the subject last viewed, at the same point in time.
    document.querySelector("#nav a[data-view=subject]").setAttribute("href", window.location.hash);
  }
  const container = h("div", { class: "view-body", id: `view-${VIEWS[name] ? name : "subject"}` });
  fill(view, container);
  const ctx = { caps, go, link };
  Promise.resolve(renderView(container, args, params, ctx)).catch((error) => {
    container.append(message("error", error instanceof ApiError ? error.detail : String(error)));
  });
}

function showSignIn(detail) {
  caps = null;
  shown = null;
  $("signin-panel").hidden = false;
  $("nav").hidden = true;
  $("who").hidden = true;
  fill($("view"));
  const error = $("signin-error");
  error.hidden = !detail;
  error.textContent = detail || "";
  $("token-input").value = "";
  $("token-input").focus();
}

function showApp(found) {
  caps = found;
  shown = null;
  const [zh, en] = ROLE_NAMES[found.role];
  $("signin-panel").hidden = true;
  $("nav").hidden = !found.canRead;
  $("who").hidden = false;
  const badge = $("role-badge");
  fill(badge, `${zh} `, h("small", {}, en));
  badge.dataset.role = found.role;
  badge.title = [
    found.canRead ? "可查询评价 reads grades" : null,
    found.canRecord ? "可处理异议、修复、抽查 records" : null,
    found.canAudit ? "可查看事件历史 reads histories" : null,
  ]
    .filter(Boolean)
    .join(" · ");
  document.body.dataset.role = found.role;
  render();
}

async function signIn(token) {
  const button = $("signin-button");
  button.disabled = true;
  try {
    const found = await detectRole(token);
    // The grade bands and labels come from the API, once, before anything graded is drawn.
    if (found.canRead) await loadModels(token);
    session.set(token);
    clearCache();
    showApp(found);
  } catch (error) {
    session.clear();
    showSignIn(error instanceof ApiError ? error.detail : String(error));
  } finally {
    button.disabled = false;
  }
}

function start() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", () => {
    session.clear();
    clearCache();
    forgetModels();
    delete document.body.dataset.role;
    document.querySelector("#nav a[data-view=subject]").setAttribute("href", "#/subject");
    window.history.replaceState(null, "", window.location.pathname);
    showSignIn(null);
  });
  window.addEventListener("hashchange", () => render());
  const token = session.token();
  if (token) signIn(token);
  else showSignIn(null);
}

start();
