// DOM, SVG, date and formatting helpers. Text is always set as text, never parsed as HTML.

import { gradeClass, gradeCode } from "./models.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** An HTML element: h("td", {class: "x"}, "text", child). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return append(el, children);
}

/** An SVG element (attributes only; SVG text is set with textContent). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  return append(el, children);
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A bilingual label: Chinese first, English small. */
export function bi(zh, en) {
  return [zh, " ", h("small", { class: "en" }, en)];
}

/** A grade label as a coloured badge, its English code as the tooltip (both from the model). */
export function gradeBadge(grade, extra) {
  if (!grade) return h("span", { class: "badge muted" }, "—");
  return h("span", { class: ["badge", "grade", gradeClass(grade), extra], title: gradeCode(grade) }, grade);
}

const HOUR = 3600 * 1000;

/** Today's date in China Standard Time, YYYY-MM-DD. */
export function todayCST() {
  return new Date(Date.now() + 8 * HOUR).toISOString().slice(0, 10);
}

/** An instant (ISO string) shown in China time: YYYY-MM-DD HH:MM:SS. */
export function cstTime(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t + 8 * HOUR).toISOString().slice(0, 19).replace("T", " ");
}

/** The CST calendar date of an instant. */
export function cstDate(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : new Date(t + 8 * HOUR).toISOString().slice(0, 10);
}

/** A datetime-local value (China time) as an RFC 3339 instant with +08:00. */
export function knownAtParam(local) {
  if (!local) return "";
  const full = local.length === 16 ? `${local}:00` : local;
  return `${full}+08:00`;
}

/** An RFC 3339 instant as a datetime-local value in China time. */
export function knownAtLocal(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  return new Date(t + 8 * HOUR).toISOString().slice(0, 19);
}

/** Milliseconds since the epoch of a YYYY-MM-DD date (UTC midnight: only for scales). */
export function dayMs(date) {
  return Date.parse(`${date}T00:00:00Z`);
}

/** Has the evaluation of `year` been published (its 31 October ended, China time)? */
export function yearPublished(year) {
  return Date.now() >= Date.UTC(year, 9, 31, 16, 0, 0);
}

/** Years 2019.. whose 31 October has ended. */
export function publishedYears() {
  const years = [];
  const last = new Date().getUTCFullYear();
  for (let y = 2019; y <= last; y += 1) if (yearPublished(y)) years.push(y);
  return years;
}

export function short(id) {
  return id ? String(id).slice(0, 8) : "—";
}

/** Run async tasks with at most `limit` in flight; results in input order. */
export async function pool(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await task(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A message box: kind "error" | "ok" | "info". */
export function message(kind, ...text) {
  return h("p", { class: ["msg", kind], role: kind === "error" ? "alert" : "status" }, ...text);
}

/** A text download made in the page (no server round trip). */
export function download(filename, text, type) {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, class: "hidden-link" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** One CSV cell: quoted, and never read as a formula by a spreadsheet. */
export function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

/** Chinese names of the ledger's event topics. */
const TOPIC_ZH = {
  subject_registered: "主体登记",
  subject_joined_field: "纳入监管领域",
  subject_left_field: "退出监管领域",
  fact_recorded: "记录信用信息",
  fact_ended: "信息终止",
  fact_revoked: "信息撤销",
  fact_corrected: "信息更正",
  subject_listed: "列入名单",
  subject_delisted: "移出名单",
  objection_filed: "提出异议",
  objection_resolved: "异议处理",
  repair_requested: "申请信用修复",
  repair_decided: "修复决定",
  repair_revoked: "撤销修复",
  industry_evaluation_recorded: "行业评价",
  inspection_result_recorded: "检查结果",
  model_published: "发布评价模型",
  supervision_policy_published: "发布监管政策",
  repair_policy_published: "发布修复政策",
};

function topicKey(topic) {
  return String(topic || "").replace(/^credit\./, "").replace(/\.v\d+$/, "");
}

export function topicZh(topic) {
  return TOPIC_ZH[topicKey(topic)] || topicKey(topic);
}

/** A marker category for an event topic (its colour on the chart). */
export function topicCategory(topic) {
  const key = topicKey(topic);
  if (key.startsWith("fact_")) return "fact";
  if (key === "subject_listed" || key === "subject_delisted") return "listing";
  if (key.startsWith("objection_")) return "objection";
  if (key.startsWith("repair_")) return "repair";
  if (key.startsWith("industry_")) return "industry";
  if (key.startsWith("inspection_")) return "inspection";
  return "subject";
}

export const CATEGORY_NAMES = {
  fact: ["信用信息", "fact"],
  listing: ["名单", "listing"],
  objection: ["异议", "objection"],
  repair: ["修复", "repair"],
  industry: ["行业评价", "industry"],
  inspection: ["检查", "inspection"],
  subject: ["主体", "subject"],
};
