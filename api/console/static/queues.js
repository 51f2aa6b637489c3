// Objection and repair queues with due dates; resolve and decide where the token may.

import { ApiError, api } from "./api.js";
import { bi, fill, h, message, short, todayCST } from "./dom.js";

const STATUSES = {
  objections: [
    ["pending", "待处理（含逾期） pending"],
    ["overdue", "逾期 overdue"],
    ["resolved", "已处理 resolved"],
  ],
  repairs: [
    ["pending", "待决定（含逾期） pending"],
    ["overdue", "逾期 overdue"],
    ["approved", "已批准 approved"],
    ["rejected", "已驳回 rejected"],
    ["revoked", "已撤销 revoked"],
  ],
};
const OPEN = new Set(["pending", "overdue"]);

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

function dueCell(item) {
  const overdue = item.status === "overdue";
  return h(
    "td",
    { class: ["nowrap", overdue ? "overdue" : null] },
    item.due_on,
    overdue ? h("span", { class: "badge flag-overdue" }, "逾期 overdue") : null,
  );
}

function resolveForm(item, onDone) {
  const out = h("div", { class: "form-out" });
  const outcome = h(
    "select",
    { name: "outcome", class: "resolve-outcome" },
    h("option", { value: "corrected" }, "更正 corrected"),
    h("option", { value: "rejected" }, "驳回 rejected"),
    h("option", { value: "undetermined" }, "无法确定 undetermined"),
  );
  const resolvedOn = h("input", { type: "date", name: "resolved_on", value: todayCST(), required: true });
  const voidBox = h("input", { type: "checkbox", name: "void", class: "resolve-void" });
  const indicator = h("input", { name: "indicator", placeholder: "例 penalty.general", size: 18 });
  const decidedOn = h("input", { type: "date", name: "decided_on" });
  const note = h("input", { name: "note", placeholder: "说明 note", size: 24, maxlength: 2000 });
  const correction = h(
    "fieldset",
    { class: "correction" },
    h("legend", {}, bi("更正内容", "correction")),
    h("label", {}, voidBox, " ", bi("作废该记录", "void")),
    h("label", {}, bi("更正指标", "indicator"), " ", indicator),
    h("label", {}, bi("更正决定日期", "decided on"), " ", decidedOn),
  );
  outcome.addEventListener("change", () => {
    correction.disabled = outcome.value !== "corrected";
  });
  const submit = h("button", { type: "submit", class: "resolve-submit" }, bi("提交处理", "Resolve"));
  const form = h(
    "form",
    { class: "inline-form resolve-form", "data-objection-id": item.objection_id },
    h("label", {}, bi("结果", "outcome"), " ", outcome),
    h("label", {}, bi("处理日期", "resolved on"), " ", resolvedOn),
    correction,
    note,
    submit,
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { outcome: outcome.value, resolved_on: resolvedOn.value };
    if (note.value.trim()) body.note = note.value.trim();
    if (outcome.value === "corrected") {
      const c = {};
      if (voidBox.checked) c.void = true;
      if (indicator.value.trim()) c.indicator = indicator.value.trim();
      if (decidedOn.value) c.decided_on = decidedOn.value;
      if (Object.keys(c).length) body.correction = c;
    }
    submit.disabled = true;
    fill(out, h("p", { class: "muted loading" }, "提交中 sending…"));
    try {
      const answer = await api(`/v1/objections/${item.objection_id}/resolve`, { method: "POST", body });
      onDone(answer);
    } catch (error) {
      fill(out, message("error", explain(error)));
      submit.disabled = false;
    }
  });
  return form;
}

function decideForm(item, onDone) {
  const out = h("div", { class: "form-out" });
  const approve = h("input", { type: "radio", name: `approved-${item.repair_id}`, value: "true", checked: true, class: "decide-approve" });
  const reject = h("input", { type: "radio", name: `approved-${item.repair_id}`, value: "false", class: "decide-reject" });
  const decidedOn = h("input", { type: "date", name: "decided_on", value: todayCST(), required: true });
  const reason = h("input", { name: "reason", placeholder: "理由 reason（必填 required）", required: true, size: 28, maxlength: 2000, class: "decide-reason" });
  const submit = h("button", { type: "submit", class: "decide-submit" }, bi("提交决定", "Decide"));
  const form = h(
    "form",
    { class: "inline-form decide-form", "data-repair-id": item.repair_id },
    h("label", {}, approve, " ", bi("批准", "approve")),
    h("label", {}, reject, " ", bi("驳回", "reject")),
    h("label", {}, bi("决定日期", "decided on"), " ", decidedOn),
    reason,
    submit,
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { approved: approve.checked, decided_on: decidedOn.value, reason: reason.value.trim() };
    submit.disabled = true;
    fill(out, h("p", { class: "muted loading" }, "提交中 sending…"));
    try {
      const answer = await api(`/v1/repairs/${item.repair_id}/decide`, { method: "POST", body });
      onDone(answer);
    } catch (error) {
      fill(out, message("error", explain(error)));
      submit.disabled = false;
    }
  });
  return form;
}

function actionCell(canRecord, open, label, makeForm, colspan) {
  if (!canRecord || !open) return { cell: h("td", {}), formRow: null };
  const formRow = h("tr", { class: "form-row", hidden: true }, h("td", { colspan }, makeForm()));
  const button = h("button", { type: "button", class: "secondary act" }, label);
  button.addEventListener("click", () => {
    formRow.hidden = !formRow.hidden;
  });
  return { cell: h("td", {}, button), formRow };
}

export async function renderQueues(root, args, params, ctx) {
  const kind = params.get("kind") === "repairs" ? "repairs" : "objections";
  const status = params.get("status") || "pending";
  const flash = h("div", { id: "queue-flash" });
  const tabs = h(
    "div",
    { class: "tabs" },
    h("a", { href: ctx.link("queues", [], { kind: "objections", status: "pending" }), class: kind === "objections" ? "active" : null, id: "tab-objections" }, bi("异议", "Objections")),
    h("a", { href: ctx.link("queues", [], { kind: "repairs", status: "pending" }), class: kind === "repairs" ? "active" : null, id: "tab-repairs" }, bi("信用修复", "Repairs")),
  );
  const statusSelect = h("select", { id: "queue-status" }, STATUSES[kind].map(([v, label]) => h("option", { value: v }, label)));
  statusSelect.value = status;
  statusSelect.addEventListener("change", () => ctx.go("queues", [], { kind, status: statusSelect.value }));
  const refresh = h("button", { type: "button", class: "secondary", id: "queue-refresh" }, bi("刷新", "Refresh"));
  const list = h("div", { id: "queue-list" }, h("p", { class: "muted loading" }, "加载中 loading…"));
  root.append(
    h(
      "section",
      { class: "panel" },
      h("h2", {}, bi("异议与信用修复", "Objections and repairs")),
      tabs,
      h("div", { class: "toolbar" }, h("label", { for: "queue-status" }, bi("状态", "status")), statusSelect, refresh),
      ctx.caps.canRecord
        ? h("p", { class: "muted small" }, "记录部门只能处理本部门领域的记录；管理员可处理全部。Recorders act on their own fields' records; admins on all.")
        : h("p", { class: "muted small" }, "此令牌只读。This token may read the queues but not act on them."),
      flash,
      list,
    ),
  );

  const load = async () => {
    fill(list, h("p", { class: "muted loading" }, "加载中 loading…"));
    let answer;
    try {
      answer = await api(`/v1/${kind}`, { query: { status } });
    } catch (error) {
      fill(list, message("error", explain(error)));
      return;
    }
    const done = (what) => (result) => {
      fill(
        flash,
        message(
          "ok",
          `${what} ${short(result.objection_id || result.repair_id)} → ${result.status}${result.outcome ? ` (${result.outcome})` : ""}，位置 position ${result.position}。 `,
          h("a", { href: ctx.link("subject", [result.uscc]) }, "查看主体 view subject"),
        ),
      );
      load();
    };
    const items = answer.items;
    const rows = [];
    if (kind === "objections") {
      for (const o of items) {
        const { cell, formRow } = actionCell(
          ctx.caps.canRecord,
          OPEN.has(o.status),
          bi("处理", "Resolve"),
          () => resolveForm(o, (r) => done("异议已处理 resolved")({ ...r, uscc: o.uscc })),
          11,
        );
        rows.push(
          h(
            "tr",
            { class: ["queue-row", o.status === "overdue" ? "overdue-row" : null], "data-id": o.objection_id, "data-uscc": o.uscc, "data-target": o.target_id },
            h("td", {}, h("code", { title: o.objection_id }, short(o.objection_id))),
            h("td", {}, h("a", { href: ctx.link("subject", [o.uscc]) }, o.uscc)),
            h("td", {}, o.target_kind),
            h("td", {}, h("code", { title: o.target_id }, short(o.target_id))),
            h("td", { class: "nowrap" }, o.filed_on),
            h("td", {}, o.grounds),
            dueCell(o),
            h("td", {}, h("span", { class: ["badge", `st-${o.status}`] }, o.status)),
            h("td", {}, o.outcome || "—"),
            h("td", { class: "nowrap" }, o.resolved_on || "—"),
            cell,
          ),
        );
        if (formRow) rows.push(formRow);
      }
    } else {
      for (const r of items) {
        const { cell, formRow } = actionCell(
          ctx.caps.canRecord,
          OPEN.has(r.status),
          bi("决定", "Decide"),
          () => decideForm(r, (d) => done("修复已决定 decided")({ ...d, uscc: r.uscc })),
          10,
        );
        rows.push(
          h(
            "tr",
            { class: ["queue-row", r.status === "overdue" ? "overdue-row" : null], "data-id": r.repair_id, "data-uscc": r.uscc, "data-target": r.target_id },
            h("td", {}, h("code", { title: r.repair_id }, short(r.repair_id))),
            h("td", {}, h("a", { href: ctx.link("subject", [r.uscc]) }, r.uscc)),
            h("td", {}, h("code", { title: r.target_id }, short(r.target_id))),
            h("td", { class: "nowrap" }, r.requested_on),
            h("td", {}, r.commitment),
            dueCell(r),
            h("td", {}, h("span", { class: ["badge", `st-${r.status}`] }, r.status)),
            h("td", { class: "nowrap" }, r.decided_on || "—"),
            h("td", {}, r.reason || "—"),
            cell,
          ),
        );
        if (formRow) rows.push(formRow);
      }
    }
    const heads =
      kind === "objections"
        ? ["编号 id", "主体 USCC", "对象 target", "对象编号", "提出 filed", "理由 grounds", "期限 due", "状态 status", "结果 outcome", "处理日 resolved", ""]
        : ["编号 id", "主体 USCC", "对象 target", "申请 requested", "承诺 commitment", "期限 due", "状态 status", "决定日 decided", "理由 reason", ""];
    const overdue = items.filter((i) => i.status === "overdue").length;
    fill(
      list,
      h("p", { class: "counts" }, `共 ${items.length} 条 items`, overdue ? h("span", { class: "badge flag-overdue" }, `逾期 overdue ${overdue}`) : null),
      items.length
        ? h("table", { class: "data", id: `${kind}-table` }, h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))), h("tbody", {}, rows))
        : message("info", "队列为空 the queue is empty"),
    );
  };
  refresh.addEventListener("click", () => {
    fill(flash);
    load();
  });
  await load();
}
