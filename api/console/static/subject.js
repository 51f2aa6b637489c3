// The subject page: explained evaluation, score over time, annual results, and the history.

import { ApiError, api, cached, seeWrites } from "./api.js";
import { scoreChart } from "./charts.js";
import {
  CATEGORY_NAMES,
  bi,
  cstDate,
  cstTime,
  fill,
  gradeBadge,
  h,
  knownAtParam,
  message,
  pool,
  publishedYears,
  short,
  todayCST,
  topicCategory,
  topicZh,
} from "./dom.js";
import { gradeClass, gradeCode, gradeLabels, overrideLabel } from "./models.js";

const CHART_START = "2019-01-01";
/** Payload dates that say when, in valid time, an event took effect. */
const VALID_DATES = [
  "decided_on",
  "listed_on",
  "delisted_on",
  "ended_on",
  "filed_on",
  "resolved_on",
  "requested_on",
  "revoked_on",
  "evaluated_on",
  "inspected_on",
  "joined_on",
  "left_on",
];
const QUIET_KEYS = new Set(["actor_id", "department", "source_document"]);

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

/** 1 January, April, July and October from 2019 to today, then today. */
function sampleDates(today) {
  const dates = [];
  for (let year = 2019; year <= Number(today.slice(0, 4)); year += 1) {
    for (const month of ["01", "04", "07", "10"]) {
      const date = `${year}-${month}-01`;
      if (date < today) dates.push(date);
    }
  }
  dates.push(today);
  return dates;
}

function evaluationQuery(asOf, knownAt, purpose) {
  return {
    as_of: asOf,
    known_at: knownAtParam(knownAt),
    purpose,
    min_position: seeWrites(),
  };
}

function loadSeries(uscc, knownAt, today) {
  return cached(`series|${uscc}|${knownAt}|${today}`, () =>
    pool(sampleDates(today), 6, (date) =>
      api(`/v1/subjects/${encodeURIComponent(uscc)}/evaluation`, {
        query: evaluationQuery(date, knownAt, "控制台趋势图 console chart"),
      }).then(
        (ev) => ({ date, score: ev.score, grade: ev.grade, listed: ev.listed }),
        () => null,
      ),
    ),
  );
}

function loadHistory(uscc) {
  return cached(`history|${uscc}`, () => api(`/v1/subjects/${encodeURIComponent(uscc)}/history`));
}

function loadYears(uscc) {
  return cached(`years|${uscc}`, () =>
    pool(publishedYears(), 4, (year) =>
      api(`/v1/evaluations/${year}/subjects/${encodeURIComponent(uscc)}`).then(
        (result) => ({ year, result }),
        (error) => ({ year, error: explain(error) }),
      ),
    ),
  );
}

function validDate(event) {
  for (const key of VALID_DATES) {
    const value = event.payload?.[key];
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  }
  return cstDate(event.recorded_at);
}

function summary(payload) {
  const parts = [];
  for (const [key, value] of Object.entries(payload || {})) {
    if (QUIET_KEYS.has(key) || value === null || value === undefined || value === "") continue;
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    parts.push(`${key}: ${text}`);
  }
  const joined = parts.join("; ");
  return joined.length > 240 ? `${joined.slice(0, 239)}…` : joined;
}

function searchBar(uscc, asOf, knownAt, ctx) {
  const input = h("input", {
    id: "uscc-input",
    name: "uscc",
    value: uscc,
    placeholder: "例 91410481DGWTR9LBM7",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 64,
    required: true,
  });
  const form = h(
    "form",
    { id: "subject-search", class: "toolbar" },
    h("label", { for: "uscc-input" }, bi("统一社会信用代码", "USCC")),
    input,
    h("button", { type: "submit", id: "uscc-search" }, bi("查询", "Search")),
  );
  input.addEventListener("input", () => input.setCustomValidity(""));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim().toUpperCase();
    if (!code) return;
    if (!/^\d{17}[\dX]$/.test(code)) {
      ctx.go("subject", [code], { as_of: asOf, known_at: knownAt });
      return;
    }
    // A resident identity number never goes in a URL: its ref is looked up by POST (DOMAIN §9).
    input.value = "";
    api("/v1/persons/lookup", { method: "POST", body: { id_number: code } }).then(
      (found) => ctx.go("subject", [found.ref], { as_of: asOf, known_at: knownAt }),
      (error) => {
        input.setCustomValidity(error.message || "未找到 not found");
        input.reportValidity();
      },
    );
  });

  const asOfInput = h("input", { type: "date", id: "as-of", value: asOf, min: "2000-01-01" });
  const knownInput = h("input", {
    type: "datetime-local",
    id: "known-at",
    value: knownAt,
    step: 1,
  });
  const apply = () =>
    ctx.go("subject", uscc ? [uscc] : [], { as_of: asOfInput.value, known_at: knownInput.value });
  asOfInput.addEventListener("change", apply);
  knownInput.addEventListener("change", apply);
  const now = h("button", { type: "button", id: "tt-now", class: "secondary" }, bi("回到现在", "Now"));
  now.addEventListener("click", () => ctx.go("subject", uscc ? [uscc] : [], {}));
  const published = h(
    "select",
    { id: "as-published", title: "按某年 10 月 31 日公布时的口径 as published on 31 October" },
    h("option", { value: "" }, "年度公布口径 as published…"),
    publishedYears()
      .reverse()
      .map((year) => h("option", { value: String(year) }, `${year}-10-31 公布 published`)),
  );
  published.addEventListener("change", () => {
    const year = published.value;
    if (year) {
      ctx.go("subject", uscc ? [uscc] : [], {
        as_of: `${year}-10-31`,
        known_at: `${year}-10-31T23:59:59`,
      });
    }
  });
  const travel = h(
    "div",
    { class: "toolbar timetravel", id: "time-travel" },
    h("label", { for: "as-of" }, bi("评价日期", "as of")),
    asOfInput,
    h("label", { for: "known-at" }, bi("记录时点（北京时间）", "known at, UTC+8")),
    knownInput,
    published,
    now,
  );
  return h("section", { class: "panel search" }, form, travel);
}

function subjectHeader(info) {
  const c = info.counts;
  return h(
    "section",
    { class: "panel subject-head", id: "subject-head" },
    h("h2", { id: "subject-name" }, info.name, " ", h("code", { class: "uscc" }, info.uscc)),
    h(
      "p",
      { class: "muted" },
      `${info.kind} · 领域 fields: ${info.fields.join(", ") || "—"} · 成立 established: ${info.established_on || "—"} · 登记 registered: ${cstTime(info.registered_at)}`,
    ),
    h(
      "p",
      { class: "counts" },
      `信用信息 facts ${c.facts}（今日计分 counting ${c.facts_counting_today}） · 名单 listings ${c.listings}（有效 active ${c.listings_active_today}） · 异议 objections ${c.objections}（待处理 pending ${c.objections_pending}） · 修复 repairs ${c.repairs}（待处理 pending ${c.repairs_pending}） · 行业评价 industry ${c.industry_evaluations}`,
    ),
  );
}

function evaluationPanel(ev) {
  const contributions = ev.contributions.map((c) =>
    h(
      "tr",
      {
        "data-fact-id": c.fact_id,
        class: [c.under_objection ? "under-objection" : null, c.corrected ? "corrected" : null],
      },
      h("td", {}, c.indicator),
      h("td", {}, c.kind === "deduction" ? "扣分 deduction" : c.kind === "bonus" ? "加分 bonus" : c.kind),
      h("td", { class: ["num", Number(c.points) < 0 ? "neg" : "pos"] }, c.points),
      h("td", {}, c.decided_on),
      h("td", { class: "counts-until" }, c.counts_until || "—"),
      h(
        "td",
        { class: "flags" },
        c.under_objection
          ? h("span", { class: "badge flag-objection" }, "异议中 under objection")
          : null,
        c.corrected ? h("span", { class: "badge flag-corrected" }, "已更正 corrected") : null,
      ),
      h("td", {}, c.domain),
      h("td", { class: "doc" }, c.document_no),
    ),
  );
  const listings = ev.listings.map((l) =>
    h(
      "tr",
      { "data-listing-id": l.listing_id },
      h("td", {}, l.list_type),
      h("td", {}, l.listed_on),
      h("td", {}, l.delisted_on || "—"),
      h("td", {}, l.authority),
      h("td", {}, l.domain),
      h("td", { class: "doc" }, l.document_no),
      h("td", {}, l.under_objection ? h("span", { class: "badge flag-objection" }, "异议中 under objection") : ""),
    ),
  );
  return h(
    "section",
    { class: "panel", id: "evaluation" },
    h("h3", {}, bi("公共信用综合评价", "Explained evaluation")),
    h(
      "div",
      { class: "score-card" },
      h(
        "div",
        { class: ["score-box", gradeClass(ev.grade)] },
        h("div", { class: "score", id: "score" }, ev.score),
        h("div", { class: "score-unit" }, "分 / 100"),
      ),
      h(
        "div",
        { class: "grade-box" },
        h("span", { id: "grade", class: ["grade-big", gradeClass(ev.grade)] }, ev.grade),
        h("span", { class: "grade-en" }, ev.grade_en),
        ev.listed ? h("span", { class: "badge flag-listed", id: "listed-flag" }, `名单内 listed → ${overrideLabel(ev.model)}`) : null,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, bi("评价日期", "as of")),
        h("dd", { id: "ev-as-of" }, ev.as_of),
        h("dt", {}, bi("记录时点", "known at")),
        h("dd", { id: "ev-known-at" }, `${cstTime(ev.known_at)} (UTC+8)`),
        h("dt", {}, bi("模型", "model")),
        h("dd", {}, ev.model),
        h("dt", {}, bi("扣分 / 加分", "deductions / bonuses")),
        h("dd", {}, `−${ev.deductions} / +${ev.bonuses_counted}（申报 ${ev.bonuses}）`),
        h("dt", {}, bi("分数等级", "score grade")),
        h("dd", {}, `${ev.score_grade} ${gradeCode(ev.score_grade)}`),
      ),
    ),
    ev.notes.length ? h("ul", { class: "notes" }, ev.notes.map((n) => h("li", {}, n))) : null,
    h("h4", {}, bi("名单", "Listings"), ` (${ev.listings.length})`),
    ev.listings.length
      ? h(
          "table",
          { class: "data", id: "listings" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["类型 type", "列入 listed", "移出 delisted", "认定机关 authority", "领域 domain", "文号 document", "异议"].map(
                (t) => h("th", {}, t),
              ),
            ),
          ),
          h("tbody", {}, listings),
        )
      : h("p", { class: "muted" }, "无 none"),
    h("h4", {}, bi("计分信息", "Contributions"), ` (${ev.contributions.length})`),
    ev.contributions.length
      ? h(
          "table",
          { class: "data", id: "contributions" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              [
                "指标 indicator",
                "类别 kind",
                "分值 points",
                "决定日期 decided",
                "计分至 counts until",
                "状态 flags",
                "领域 domain",
                "文号 document",
              ].map((t) => h("th", {}, t)),
            ),
          ),
          h("tbody", {}, contributions),
        )
      : h("p", { class: "muted", id: "no-contributions" }, "无计分信息 nothing counts at this date"),
    ev.excluded.length
      ? h(
          "details",
          { class: "excluded" },
          h("summary", {}, bi("已记录但不计分", "Recorded but not counting"), ` (${ev.excluded.length})`),
          h(
            "ul",
            {},
            ev.excluded.map((x) => h("li", {}, h("code", {}, x.indicator), ` ${x.reason} `, h("small", { class: "muted" }, short(x.fact_id)))),
          ),
        )
      : null,
    h("p", { class: "notice" }, ev.notice),
  );
}

function chartLegend(withEvents, model) {
  return h(
    "div",
    { class: "legend" },
    gradeLabels(model).map((g) => h("span", { class: "legend-item" }, h("i", { class: ["swatch", gradeClass(g)] }), `${g} ${gradeCode(g)}`)),
    withEvents
      ? Object.entries(CATEGORY_NAMES).map(([cat, [zh, en]]) =>
          h("span", { class: "legend-item" }, h("i", { class: ["swatch", "tri", `cat-${cat}`] }), `${zh} ${en}`),
        )
      : null,
  );
}

async function chartPanel(panel, uscc, ev, knownAt, today, historyPromise) {
  fill(panel, h("h3", {}, bi("信用分走势", "Score over time")), h("p", { class: "muted loading" }, "加载中 loading…"));
  const [series, history] = await Promise.all([
    loadSeries(uscc, knownAt, today),
    historyPromise ? historyPromise.catch(() => null) : Promise.resolve(null),
  ]);
  const events = (history?.events || []).map((e) => ({
    version: e.version,
    date: validDate(e),
    topic: e.topic,
    category: topicCategory(e.topic),
    label: topicZh(e.topic),
  }));
  const svg = scoreChart({
    points: series.filter(Boolean),
    start: CHART_START,
    end: today,
    asOf: ev.as_of,
    current: { date: ev.as_of, score: ev.score, grade: ev.grade },
    model: ev.model,
    events,
    onMarker: (version) => {
      const row = document.getElementById(`hist-v${version}`);
      if (!row) return;
      row.scrollIntoView({ behavior: "smooth", block: "center" });
      for (const old of document.querySelectorAll("tr.flash")) old.classList.remove("flash");
      row.classList.add("flash");
    },
  });
  fill(
    panel,
    h("h3", {}, bi("信用分走势", "Score over time"), " ", h("small", { class: "muted" }, knownAt ? `known at ${knownAt} (UTC+8)` : "as known now")),
    h("p", { class: "muted small" }, "每季度首日取样，另加今日；底色为等级区间。Sampled on the 1st of each quarter and today; bands are the grade thresholds."),
    h("div", { class: "chart-wrap", id: "score-chart" }, svg),
    chartLegend(events.length > 0, ev.model),
    events.length ? h("p", { class: "muted small" }, "点击事件标记可跳到历史记录。Click a marker to jump to its history row.") : null,
  );
}

function yearCell(ev, differs) {
  if (!ev) return h("td", { class: ["muted", differs ? "differs" : null] }, "— 未纳入 not evaluated");
  return h(
    "td",
    { class: differs ? "differs" : null },
    h("span", { class: "num" }, ev.score), " ", gradeBadge(ev.grade), ev.listed ? " 名单内" : "",
  );
}

async function yearsPanel(panel, uscc) {
  fill(panel, h("h3", {}, bi("年度评价：公布与重述", "Annual: published vs restated")), h("p", { class: "muted loading" }, "加载中 loading…"));
  const years = await loadYears(uscc);
  const rows = years.map(({ year, result, error }) => {
    if (error) {
      return h("tr", { "data-year": year }, h("td", {}, String(year)), h("td", { colspan: 3, class: "error" }, error));
    }
    const differs = result.restated_differs;
    return h(
      "tr",
      { "data-year": year, class: differs ? "differs-row" : null },
      h("td", {}, String(year)),
      yearCell(result.published, differs),
      yearCell(result.restated, differs),
      h(
        "td",
        { class: "changes" },
        result.changes.length
          ? h(
              "ul",
              {},
              result.changes.map((c) =>
                h(
                  "li",
                  {},
                  h("strong", {}, topicZh(c.topic)),
                  c.version ? h("span", { class: "badge" }, ` ${c.version}`) : null,
                  ` ${c.topic} · ${cstTime(c.recorded_at)}`,
                  c.position !== null ? ` · #${c.position}` : "",
                  " · ",
                  `${c.score_before ?? "—"} ${c.grade_before ?? ""} → ${c.score_after ?? "—"} ${c.grade_after ?? ""}`,
                ),
              ),
            )
          : differs
            ? "—"
            : h("span", { class: "muted" }, "一致 same"),
      ),
    );
  });
  fill(
    panel,
    h("h3", {}, bi("年度评价：公布与重述", "Annual: published vs restated")),
    h("p", { class: "muted small" }, "公布 = 当年 10 月 31 日结束时所知；重述 = 同一评价日期按现在所知。Published = as known at the end of 31 October; restated = the same date as known now."),
    rows.length
      ? h(
          "table",
          { class: "data", id: "years-table" },
          h("thead", {}, h("tr", {}, ["年度 year", "公布 published", "重述 restated", "变更 changes (topic, recorded at)"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "尚无已公布年度 no year published yet"),
  );
}

/** The subject's result beside its upstream's (DOMAIN §10); nothing when none was pulled. */
async function upstreamPanel(slot, uscc) {
  const answer = await cached(`upstream|${uscc}`, () => api(`/v1/subjects/${encodeURIComponent(uscc)}/upstream`));
  if (!answer.upstream) return;
  const theirs = answer.upstream.result || {};
  const differing = new Set(answer.differences.map((d) => d.what.split(".")[0]));
  const cell = (ev, side, part) =>
    h(
      "td",
      { class: [side, differing.has(part) ? "differs" : null] },
      ev ? [h("span", { class: "num" }, ev.score), " ", gradeBadge(ev.grade), ev.listed ? " 名单内 listed" : ""] : h("span", { class: "muted" }, "—"),
    );
  const year = answer.local.year ?? theirs.year;
  const parts = [
    ["current", "当前 current"],
    ["published", `${year ?? ""} 公布 published`],
    ["restated", `${year ?? ""} 重述 restated`],
  ];
  fill(
    slot,
    h(
      "section",
      { class: "panel", id: "upstream", "data-differs": String(answer.differs) },
      h(
        "h3",
        {},
        bi("上级账本结果", "Upstream result"),
        " ",
        answer.differs
          ? h("span", { class: "badge flag-differs", id: "upstream-differs" }, "与上级不一致 differs")
          : h("span", { class: "badge flag-same", id: "upstream-same" }, "与上级一致 same"),
      ),
      h(
        "div",
        { class: "upstream-card" },
        h(
          "table",
          { class: "data compact", id: "upstream-table" },
          h("thead", {}, h("tr", {}, ["", "本级 local", "上级 upstream"].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            parts.map(([part, label]) =>
              h("tr", { "data-part": part }, h("th", {}, label), cell(answer.local[part], "local", part), cell(theirs[part], "upstream", part)),
            ),
          ),
        ),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, bi("上级账本", "upstream")),
          h("dd", {}, h("code", {}, answer.upstream.upstream)),
          h("dt", {}, bi("上级位置", "upstream position")),
          h("dd", { id: "upstream-position" }, String(answer.upstream.position)),
          h("dt", {}, bi("拉取记录时间", "pulled at")),
          h("dd", {}, `${cstTime(answer.upstream.recorded_at)} (UTC+8)`),
        ),
      ),
      h("p", { class: "muted small" }, "两者均为按现在所知的结果，与上方所选评价日期无关。Both as known now, whatever date is chosen above."),
    ),
  );
}

async function historyPanel(panel, historyPromise) {
  fill(panel, h("h3", {}, bi("事件历史", "Event history")), h("p", { class: "muted loading" }, "加载中 loading…"));
  let history;
  try {
    history = await historyPromise;
  } catch (error) {
    fill(panel, h("h3", {}, bi("事件历史", "Event history")), message("error", explain(error)));
    return;
  }
  const rows = history.events.map((e) =>
    h(
      "tr",
      { id: `hist-v${e.version}`, "data-version": e.version, class: `cat-row-${topicCategory(e.topic)}` },
      h("td", { class: "num" }, e.position ?? "—"),
      h("td", { class: "num" }, String(e.version)),
      h("td", { class: "nowrap" }, cstTime(e.recorded_at)),
      h("td", { class: "nowrap" }, validDate(e)),
      h("td", {}, h("strong", {}, topicZh(e.topic)), h("br"), h("small", { class: "muted" }, e.topic)),
      h("td", { class: "payload" }, summary(e.payload)),
      h("td", { class: "nowrap" }, e.payload?.actor_id || "—", e.payload?.department ? h("br") : null, e.payload?.department || ""),
    ),
  );
  fill(
    panel,
    h("h3", {}, bi("事件历史", "Event history"), ` (${history.events.length})`, " ", h("small", { class: "muted" }, "审计 auditor / admin")),
    h(
      "table",
      { class: "data", id: "history-table" },
      h(
        "thead",
        {},
        h("tr", {}, ["位置 position", "版本 v", "记录时间 recorded (UTC+8)", "有效日期 valid", "事件 topic", "内容 payload", "操作者 actor"].map((t) => h("th", {}, t))),
      ),
      h("tbody", {}, rows),
    ),
  );
}

export async function renderSubject(root, args, params, ctx) {
  const uscc = (args[0] || "").trim().toUpperCase();
  const asOf = params.get("as_of") || "";
  const knownAt = params.get("known_at") || "";
  root.append(searchBar(uscc, asOf, knownAt, ctx));
  if (!uscc) {
    root.append(
      h(
        "section",
        { class: "panel" },
        h("p", { class: "muted" }, "输入完整的 18 位统一社会信用代码查询主体。Enter a subject's exact 18-character credit code."),
      ),
    );
    return;
  }
  const status = h("div", { id: "subject-status" });
  const head = h("div", { id: "subject-head-slot" });
  const evaluation = h("div", { id: "evaluation-slot" });
  const upstream = h("div", { id: "upstream-slot" });
  const chart = h("section", { class: "panel", id: "chart" });
  const years = h("section", { class: "panel", id: "years" });
  const history = ctx.caps.canAudit ? h("section", { class: "panel", id: "history" }) : null;
  root.append(status, head, evaluation);
  status.append(h("p", { class: "muted loading" }, "加载中 loading…"));

  const path = `/v1/subjects/${encodeURIComponent(uscc)}`;
  let ev;
  let info;
  try {
    [ev, info] = await Promise.all([
      api(`${path}/evaluation`, { query: evaluationQuery(asOf, knownAt, "控制台查询 console") }),
      api(path),
    ]);
  } catch (error) {
    fill(status, message("error", explain(error)));
    return;
  }
  fill(status);
  const asOfInput = document.getElementById("as-of");
  if (asOfInput && !asOfInput.value) asOfInput.value = ev.as_of;
  const today = todayCST();
  head.append(subjectHeader(info));
  evaluation.append(evaluationPanel(ev));
  root.append(upstream, chart, years);
  if (history) root.append(history);
  const historyPromise = history ? loadHistory(uscc) : null;
  const tasks = [
    chartPanel(chart, uscc, ev, knownAt, today, historyPromise),
    yearsPanel(years, uscc),
    upstreamPanel(upstream, uscc),
  ];
  if (history) tasks.push(historyPanel(history, historyPromise));
  const results = await Promise.allSettled(tasks);
  const panels = [chart, years, upstream, history];
  results.forEach((r, i) => {
    if (r.status === "rejected") fill(panels[i], message("error", explain(r.reason)));
  });
  root.dataset.ready = "true";
}
