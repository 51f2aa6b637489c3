// The annual dashboard: grade distribution per year, published vs restated, and read-model lag.

import { ApiError, api, cached } from "./api.js";
import { annualChart } from "./charts.js";
import { bi, cstTime, fill, h, message, pool, publishedYears } from "./dom.js";
import { gradeClass, gradeCode, gradeLabels } from "./models.js";
import { renderVersions } from "./versions.js";

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

async function readiness(panel) {
  fill(panel, h("h3", {}, bi("读模型延迟", "Projection lag")), h("p", { class: "muted loading" }, "加载中 loading…"));
  let ready;
  try {
    ready = await api("/readyz", { token: null });
  } catch (error) {
    fill(panel, h("h3", {}, bi("读模型延迟", "Projection lag")), message("error", explain(error)));
    return;
  }
  const lag = ready.projection_lag || {};
  const behind = Object.values(lag).some((n) => n > 0);
  const refresh = h("button", { type: "button", class: "secondary", id: "lag-refresh" }, bi("刷新", "Refresh"));
  refresh.addEventListener("click", () => readiness(panel));
  fill(
    panel,
    h("h3", {}, bi("读模型延迟", "Projection lag"), " ", refresh),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, bi("状态", "status")),
      h("dd", {}, ready.status),
      h("dt", {}, bi("账本位置", "ledger position")),
      h("dd", { id: "ledger-position" }, String(ready.position)),
      h("dt", {}, bi("投影运行", "projector")),
      h("dd", {}, ready.projector, ready.projector_error ? h("span", { class: "error" }, ` ${ready.projector_error}`) : null),
    ),
    h(
      "table",
      { class: ["data", "compact", behind ? "behind" : null], id: "lag-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "读模型 read model"), h("th", {}, "落后事件数 events behind"))),
      h(
        "tbody",
        {},
        Object.entries(lag).map(([name, n]) =>
          h("tr", { class: n > 0 ? "lagging" : null, "data-table": name }, h("td", {}, name), h("td", { class: "num" }, String(n))),
        ),
      ),
    ),
  );
}

export async function renderAnnual(root) {
  const chartPanel = h("section", { class: "panel", id: "annual-chart" }, h("h2", {}, bi("年度评价等级分布", "Annual grade distribution")), h("p", { class: "muted loading" }, "加载中 loading…"));
  const lagPanel = h("section", { class: "panel", id: "readiness" });
  const versionsPanel = h("section", { class: "panel", id: "rule-versions" });
  root.append(chartPanel, versionsPanel, lagPanel);
  const lag = readiness(lagPanel);
  const versions = renderVersions(versionsPanel);

  const years = publishedYears();
  const results = await cached("annual", () =>
    pool(years, 3, (year) =>
      api(`/v1/evaluations/${year}`).then(
        (summary) => ({ year, summary }),
        (error) => ({ year, error: explain(error) }),
      ),
    ),
  );
  const ok = results.filter((r) => r.summary);
  // The grades as the model serves them (the latest version: one set of columns for all years).
  const GRADES = gradeLabels();
  const errors = results.filter((r) => r.error);
  const rows = ok.map(({ year, summary }) =>
    h(
      "tr",
      { "data-year": year, class: summary.changed ? "differs-row" : null },
      h("td", {}, String(year)),
      GRADES.map((g) => h("td", { class: "num" }, String(summary.published[g] ?? 0))),
      GRADES.map((g) => {
        const p = summary.published[g] ?? 0;
        const r = summary.restated[g] ?? 0;
        return h("td", { class: ["num", p !== r ? "differs" : null] }, String(r));
      }),
      h("td", { class: "num" }, String(summary.changed)),
      h("td", { class: "num" }, `${summary.entered} / ${summary.left}`),
      h("td", {}, summary.source),
      h("td", { class: "nowrap small" }, cstTime(summary.published_known_at)),
    ),
  );
  fill(
    chartPanel,
    h("h2", {}, bi("年度评价等级分布", "Annual grade distribution")),
    h("p", { class: "muted small" }, "每年左柱为 10 月 31 日公布结果，右柱为按现在所知重述的结果。Left bar: as published on 31 October; right bar: restated as known now."),
    ok.length
      ? h(
          "div",
          { class: "chart-wrap" },
          annualChart(ok.map(({ year, summary }) => ({ year, published: summary.published, restated: summary.restated, changed: summary.changed }))),
        )
      : message("info", "尚无已公布年度 no year published yet"),
    h(
      "div",
      { class: "legend" },
      GRADES.map((g) => h("span", { class: "legend-item" }, h("i", { class: ["swatch", gradeClass(g)] }), `${g} ${gradeCode(g)}`)),
    ),
    errors.map((e) => message("error", `${e.year}: ${e.error}`)),
    ok.length
      ? h(
          "table",
          { class: "data", id: "annual-table" },
          h(
            "thead",
            {},
            h("tr", {}, h("th", { rowspan: 2 }, "年度 year"), h("th", { colspan: GRADES.length }, "公布 published"), h("th", { colspan: GRADES.length }, "重述 restated"), h("th", { rowspan: 2 }, "变化 changed"), h("th", { rowspan: 2 }, "新增/移出 entered/left"), h("th", { rowspan: 2 }, "来源 source"), h("th", { rowspan: 2 }, "公布时点 cut-off (UTC+8)")),
            h("tr", {}, [...GRADES, ...GRADES].map((g) => h("th", {}, g))),
          ),
          h("tbody", {}, rows),
        )
      : null,
  );
  await Promise.all([lag, versions]);
}
