// Federation (DOMAIN §10): the sync with the upstream, parked deliveries, the downstream ledgers
// delivering here, and the subjects whose result differs from the upstream's.

import { ApiError, api } from "./api.js";
import { bi, cstTime, fill, gradeBadge, h, message } from "./dom.js";

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

function loading() {
  return h("p", { class: "muted loading" }, "加载中 loading…");
}

/** A rule's reason with the field and rule it names, as the upstream answered. */
function reasonCell(item) {
  return h(
    "td",
    { class: "reason" },
    item.kind ? h("span", { class: "badge st-refused" }, item.kind) : null,
    " ",
    item.reason || "—",
    item.field || item.rule
      ? h(
          "div",
          { class: "small muted rule" },
          item.field ? ["字段 field: ", h("code", { class: "field" }, item.field)] : null,
          item.field && item.rule ? " · " : null,
          item.rule ? ["规则 rule: ", h("span", { class: "rule-text" }, item.rule)] : null,
        )
      : null,
  );
}

function usccCell(code, ctx) {
  return h("td", { class: "nowrap" }, code ? h("a", { href: ctx.link("subject", [code]) }, code) : "—");
}

function statePanel(panel, state) {
  if (!state.upstream) {
    fill(
      panel,
      h("h3", {}, bi("上级账本", "Upstream")),
      message(
        "info",
        "本账本未配置上级账本，不向上报送，也不拉取上级评价结果。",
        h("br"),
        h("small", {}, "No upstream is configured (CREDIT_LEDGER_UPSTREAM_URL): nothing is delivered up and no upstream results are pulled."),
      ),
      h("dl", { class: "facts" }, h("dt", {}, bi("本账本位置", "ledger position")), h("dd", { id: "sync-position" }, String(state.position))),
    );
    panel.dataset.upstream = "none";
    return;
  }
  const behind = Math.max(0, state.position - state.acknowledged);
  fill(
    panel,
    h("h3", {}, bi("上级账本", "Upstream"), " ", h("code", { id: "sync-upstream" }, state.upstream)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, bi("本账本位置", "ledger position")),
      h("dd", { id: "sync-position" }, String(state.position)),
      h("dt", {}, bi("上级已确认至", "acknowledged up to")),
      h("dd", { id: "sync-acknowledged" }, String(state.acknowledged), behind ? h("span", { class: "muted" }, ` （未确认 ${behind} 个位置 positions behind）`) : null),
      h("dt", {}, bi("已报送", "delivered")),
      h("dd", { id: "sync-delivered" }, String(state.delivered)),
      h("dt", {}, bi("被拒暂存", "parked")),
      h("dd", { id: "sync-parked-count", class: state.parked ? "error" : null }, String(state.parked)),
      h("dt", {}, bi("等待确认自", "waiting since")),
      h("dd", { id: "sync-waiting" }, state.waiting_since ? `${cstTime(state.waiting_since)} (UTC+8)` : "无待确认记录 nothing waiting"),
      h("dt", {}, bi("已拉取上级结果至", "pulled up to")),
      h("dd", { id: "sync-pulled" }, String(state.pulled), state.pulled_year ? ` · ${state.pulled_year} 年度 year` : ""),
      h("dt", {}, bi("已记录上级结果", "results recorded")),
      h("dd", { id: "sync-recorded" }, String(state.results_recorded)),
    ),
  );
  panel.dataset.upstream = state.upstream;
}

function parkedPanel(panel, items, ctx) {
  const rows = items.map((p) =>
    h(
      "tr",
      { class: "parked-row", "data-position": p.position, "data-uscc": p.args?.uscc || "" },
      h("td", { class: "num" }, String(p.position)),
      usccCell(p.args?.uscc, ctx),
      h("td", {}, h("code", {}, p.command || "—"), p.department ? h("div", { class: "small muted" }, p.department) : null),
      reasonCell(p),
      h("td", { class: "nowrap" }, cstTime(p.recorded_at)),
    ),
  );
  fill(
    panel,
    h("h3", {}, bi("被上级拒收的报送", "Parked deliveries"), ` (${items.length})`),
    h("p", { class: "muted small" }, "上级按其规则拒收的记录暂存于此，不会自动重发；修正后由信用办用 credit-ledger sync --retry-parked 重新报送。Refused by the upstream under its rules; kept here, never retried blindly."),
    items.length
      ? h(
          "table",
          { class: "data", id: "parked-table" },
          h("thead", {}, h("tr", {}, ["位置 position", "主体 USCC", "命令 command", "拒收理由 reason", "记录时间 recorded (UTC+8)"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : message("info", "无被拒收的报送 nothing parked"),
  );
}

function inboxesPanel(panel, inboxes) {
  const rows = inboxes.map((i) =>
    h(
      "tr",
      { class: "inbox-row", "data-source": i.source },
      h("td", {}, i.source),
      h("td", { class: "num" }, String(i.acknowledged)),
      h("td", { class: "num" }, String(i.taken)),
      h("td", { class: ["num", i.refused.length ? "error" : null], "data-refused": i.refused.length }, String(i.refused.length)),
      h(
        "td",
        {},
        i.refused.length
          ? h(
              "ul",
              { class: "refusals" },
              i.refused.map((r) =>
                h("li", {}, `#${r.position} `, r.reason || r.kind || "—", r.field ? [" · ", h("code", {}, r.field)] : null, r.rule ? ` · ${r.rule}` : null),
              ),
            )
          : "—",
      ),
    ),
  );
  fill(
    panel,
    h("h3", {}, bi("下级账本报送", "Downstream ledgers delivering here"), ` (${inboxes.length})`),
    inboxes.length
      ? h(
          "table",
          { class: "data", id: "inboxes-table" },
          h("thead", {}, h("tr", {}, ["下级账本 source", "已接收至 acknowledged", "已处理 taken", "拒收 refused", "拒收明细 refusals"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : message("info", "尚无下级账本报送 no downstream ledger delivers here"),
  );
}

/** A value of a difference: a grade as its badge, a listing or a part's presence in words. */
function shownValue(what, value) {
  if (what.endsWith(".grade")) return gradeBadge(value);
  if (what.endsWith(".listed")) return value ? "名单内 listed" : "未列入 not listed";
  if (typeof value === "boolean") return value ? "有结果 present" : "无结果 none";
  return value === null || value === undefined ? "—" : String(value);
}

const PARTS = { current: "当前 current", published: "公布 published", restated: "重述 restated" };

function whatLabel(what) {
  const [part, key] = what.split(".");
  return [PARTS[part] || part, key ? ` ${key}` : ""];
}

function differencesPanel(panel, found, ctx) {
  const rows = [];
  for (const subject of found) {
    subject.differences.forEach((d, i) => {
      rows.push(
        h(
          "tr",
          { class: ["difference-row", i === 0 ? "first" : null], "data-uscc": subject.uscc, "data-what": d.what },
          i === 0 ? h("td", { rowspan: subject.differences.length, class: "nowrap" }, h("a", { href: ctx.link("subject", [subject.uscc]) }, subject.uscc)) : null,
          h("td", {}, whatLabel(d.what), h("div", { class: "small muted" }, h("code", {}, d.what))),
          h("td", { class: "local" }, shownValue(d.what, d.local)),
          h("td", { class: "upstream differs" }, shownValue(d.what, d.upstream)),
          i === 0
            ? h(
                "td",
                { rowspan: subject.differences.length, class: "nowrap small" },
                subject.upstream ? [`#${subject.upstream.position}`, h("br"), cstTime(subject.upstream.recorded_at)] : "—",
              )
            : null,
        ),
      );
    });
  }
  fill(
    panel,
    h("h3", {}, bi("与上级结果不一致", "Differences from the upstream"), ` (${found.length})`),
    h("p", { class: "muted small" }, "本级按自己的记录计算的结果与最近拉取的上级结果逐项比较（分数、等级、名单）。Each subject's own result beside the upstream's as last pulled: score, grade and listing."),
    found.length
      ? h(
          "table",
          { class: "data", id: "differences-table" },
          h("thead", {}, h("tr", {}, ["主体 USCC", "不一致项 what", "本级 local", "上级 upstream", "上级位置 / 拉取时间 upstream position, pulled"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : message("info", "无不一致的主体 no subject differs from the upstream"),
  );
}

async function into(panel, load, draw) {
  fill(panel, loading());
  try {
    draw(await load());
  } catch (error) {
    fill(panel, message("error", explain(error)));
  }
}

export async function renderSync(root, args, params, ctx) {
  const refresh = h("button", { type: "button", class: "secondary", id: "sync-refresh" }, bi("刷新", "Refresh"));
  const head = h(
    "section",
    { class: "panel" },
    h("h2", {}, bi("省市联网同步", "Federation sync"), " ", refresh),
    ctx.caps.canAudit
      ? null
      : h("p", { class: "muted small", id: "sync-readers-note" }, "同步状态与被拒收记录仅审计和管理员可见；此处只显示与上级结果不一致的主体。The sync state and parked records are for auditors and admins; this token sees the differences only."),
  );
  const state = ctx.caps.canAudit ? h("section", { class: "panel", id: "sync-state" }) : null;
  const parked = ctx.caps.canAudit ? h("section", { class: "panel", id: "sync-parked" }) : null;
  const inboxes = ctx.caps.canAudit ? h("section", { class: "panel", id: "sync-inboxes" }) : null;
  const differences = h("section", { class: "panel", id: "sync-differences" });
  root.append(head, state, parked, inboxes, differences);

  const load = async () => {
    delete root.dataset.ready;
    const tasks = [into(differences, () => api("/v1/federation/differences"), (found) => differencesPanel(differences, found, ctx))];
    if (ctx.caps.canAudit) {
      fill(inboxes, loading());
      tasks.push(
        into(
          state,
          () =>
            api("/v1/federation/state").catch((error) => {
              fill(inboxes, message("error", explain(error)));
              throw error;
            }),
          (answer) => {
            statePanel(state, answer);
            inboxesPanel(inboxes, answer.inboxes);
          },
        ),
        into(parked, () => api("/v1/federation/parked"), (items) => parkedPanel(parked, items, ctx)),
      );
    }
    await Promise.all(tasks);
    root.dataset.ready = "true";
  };
  refresh.addEventListener("click", () => load());
  await load();
}
