// A department's worklist: a field's subjects by tier and grade, CSV export, draws and checks.

import { ApiError, api, cached, seeWrites } from "./api.js";
import { bi, csvCell, download, fill, gradeBadge, h, message, todayCST } from "./dom.js";

const TIERS = {
  reduced: ["减少检查", "reduced"],
  regular: ["常规检查", "regular"],
  intensified: ["重点检查", "intensified"],
};
const COLUMNS = ["uscc", "name", "tier", "grade", "basis", "public_grade", "industry_grade", "listed", "as_of"];
const MAX_PAGES = 50;

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

// Every page read is on the audit log with its purpose: an export is read again as such.
const PURPOSE_LIST = "控制台工作清单 console worklist";
const PURPOSE_EXPORT = "控制台导出CSV console CSV export";

async function loadWorklist(field, tier, grade, purpose = PURPOSE_LIST) {
  const items = [];
  let counts = {};
  let after;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await api(`/v1/fields/${encodeURIComponent(field)}/subjects`, {
      query: { tier, grade, after, limit: 1000, min_position: seeWrites(), purpose },
    });
    counts = answer.counts;
    items.push(...answer.items);
    if (!answer.next) break;
    after = answer.next;
  }
  return { counts, items };
}

function select(id, options, value) {
  const el = h(
    "select",
    { id, name: id },
    options.map(([v, label]) => h("option", { value: v }, label)),
  );
  el.value = value;
  return el;
}

function drawResult(draw, verifyButton) {
  const strata = Object.entries(draw.strata).map(([grade, [population, drawn]]) =>
    h("tr", {}, h("td", {}, grade), h("td", { class: "num" }, String(population)), h("td", { class: "num" }, String(drawn))),
  );
  return h(
    "div",
    { class: "draw-result", id: "draw-result", "data-draw-id": draw.draw_id },
    message("ok", "已抽取 drawn: ", h("code", { id: "draw-id" }, draw.draw_id)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, bi("种子", "seed")),
      h("dd", {}, h("code", {}, draw.seed)),
      h("dt", {}, bi("总体摘要", "population digest")),
      h("dd", {}, h("code", { class: "digest" }, draw.population_digest)),
      h("dt", {}, bi("读取位置", "position")),
      h("dd", {}, String(draw.position)),
      h("dt", {}, bi("政策", "policy")),
      h("dd", {}, draw.policy),
    ),
    h("table", { class: "data compact" }, h("thead", {}, h("tr", {}, ["等级 grade", "总体 population", "抽取 drawn"].map((t) => h("th", {}, t)))), h("tbody", {}, strata)),
    h(
      "table",
      { class: "data", id: "draw-selected" },
      h("thead", {}, h("tr", {}, ["代码 USCC", "等级 grade", "层级 tier", "检查人员 inspectors"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        draw.selected.map((d) =>
          h("tr", {}, h("td", {}, h("a", { href: `#/subject/${d.uscc}` }, d.uscc)), h("td", {}, d.grade), h("td", {}, d.tier), h("td", {}, d.inspectors.join("、") || "—")),
        ),
      ),
    ),
    verifyButton,
  );
}

function verifyResult(answer) {
  return h(
    "div",
    { id: "verify-result", class: answer.valid ? "valid" : "invalid" },
    answer.valid
      ? message("ok", "✓ 复核一致 valid: 用公布的种子重算结果与记录相同 recomputed from the published seed, identical")
      : message("error", "✗ 复核不一致 invalid"),
    answer.differences.length ? h("ul", {}, answer.differences.map((d) => h("li", {}, d))) : null,
  );
}

async function verify(drawId, out) {
  fill(out, h("p", { class: "muted loading" }, "复核中 verifying…"));
  try {
    const answer = await api(`/v1/inspections/draws/${encodeURIComponent(drawId)}/verify`);
    fill(out, verifyResult(answer));
  } catch (error) {
    fill(out, message("error", explain(error)));
  }
}

export async function renderWorklist(root, args, params, ctx) {
  const fields = await cached("fields", () => api("/v1/fields", { token: null }));
  const field = params.get("field") || fields[0]?.code || "";
  const tier = params.get("tier") || "";
  const grade = params.get("grade") || "";

  const fieldSelect = select(
    "field",
    fields.map((f) => [f.code, `${f.name_zh} ${f.code} — ${f.department_zh}`]),
    field,
  );
  const tierSelect = select("tier", [["", "全部层级 all tiers"], ...Object.entries(TIERS).map(([k, [zh, en]]) => [k, `${zh} ${en}`])], tier);
  const gradeSelect = select("grade", [["", "全部等级 all grades"], ...["A", "B", "C", "D"].map((g) => [g, g])], grade);
  const change = () => ctx.go("worklist", [], { field: fieldSelect.value, tier: tierSelect.value, grade: gradeSelect.value });
  for (const el of [fieldSelect, tierSelect, gradeSelect]) el.addEventListener("change", change);
  const exportButton = h("button", { type: "button", id: "export-csv", class: "secondary", disabled: true }, bi("导出 CSV", "Export CSV"));

  const counts = h("div", { class: "tier-counts", id: "tier-counts" });
  const list = h("div", { id: "worklist-list" }, h("p", { class: "muted loading" }, "加载中 loading…"));
  root.append(
    h(
      "section",
      { class: "panel" },
      h("h2", {}, bi("部门工作清单", "Department worklist")),
      h(
        "div",
        { class: "toolbar" },
        h("label", { for: "field" }, bi("领域", "field")),
        fieldSelect,
        h("label", { for: "tier" }, bi("层级", "tier")),
        tierSelect,
        h("label", { for: "grade" }, bi("等级", "grade")),
        gradeSelect,
        exportButton,
      ),
      counts,
      list,
    ),
  );

  // Draws: recorders and admins make them; anyone who reads may verify one by id.
  const drawOut = h("div", { id: "draw-out" });
  const verifyOut = h("div", { id: "verify-out" });
  const drawPanel = h("section", { class: "panel", id: "draws" }, h("h3", {}, bi("双随机抽查", "Double-random inspection draws")));
  if (ctx.caps.canRecord) {
    const asOf = h("input", { type: "date", id: "draw-as-of", value: todayCST(), required: true });
    const seed = h("input", { id: "draw-seed", placeholder: "可选 optional, e.g. 舞钢市场监管-2025-06", maxlength: 200 });
    const form = h(
      "form",
      { id: "draw-form", class: "toolbar" },
      h("label", { for: "draw-as-of" }, bi("抽查基准日", "as of")),
      asOf,
      h("label", { for: "draw-seed" }, bi("种子", "seed")),
      seed,
      h("button", { type: "submit", id: "draw-submit" }, bi("抽取", "Draw")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      fill(drawOut, h("p", { class: "muted loading" }, "抽取中 drawing…"));
      try {
        const body = { field: fieldSelect.value, as_of: asOf.value };
        if (seed.value.trim()) body.seed = seed.value.trim();
        const draw = await api("/v1/inspections/draws", { method: "POST", body });
        const again = h("button", { type: "button", class: "secondary", id: "verify-this" }, bi("复核此次抽取", "Verify this draw"));
        again.addEventListener("click", () => verify(draw.draw_id, verifyOut));
        fill(drawOut, drawResult(draw, again));
      } catch (error) {
        fill(drawOut, message("error", explain(error)));
      }
    });
    drawPanel.append(form, drawOut);
  } else {
    drawPanel.append(h("p", { class: "muted small" }, "抽取需记录部门或管理员令牌。Drawing needs a recorder or admin token."));
  }
  const drawIdInput = h("input", { id: "verify-id", placeholder: "抽取编号 draw id (UUID)", size: 40, required: true });
  const verifyForm = h(
    "form",
    { id: "verify-form", class: "toolbar" },
    h("label", { for: "verify-id" }, bi("复核抽取", "Verify a draw")),
    drawIdInput,
    h("button", { type: "submit", id: "verify-submit", class: "secondary" }, bi("复核", "Verify")),
  );
  verifyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (drawIdInput.value.trim()) verify(drawIdInput.value.trim(), verifyOut);
  });
  drawPanel.append(verifyForm, verifyOut);
  root.append(drawPanel);

  if (!field) {
    fill(list, message("info", "没有可选领域 no fields"));
    return;
  }
  let data;
  try {
    data = await loadWorklist(field, tier, grade);
  } catch (error) {
    fill(list, message("error", explain(error)));
    return;
  }
  const total = Object.values(data.counts).reduce((a, b) => a + b, 0);
  fill(
    counts,
    h("span", { class: "count-chip" }, `全部 all: ${total}`),
    Object.entries(TIERS).map(([key, [zh, en]]) =>
      h("a", { class: ["count-chip", `tier-${key}`, tier === key ? "active" : null], href: ctx.link("worklist", [], { field, tier: key, grade }), "data-tier": key }, `${zh} ${en}: `, h("strong", {}, String(data.counts[key] ?? 0))),
    ),
    h("span", { class: "count-chip muted" }, `当前筛选 shown: ${data.items.length}`),
  );
  const rows = data.items.map((it) =>
    h(
      "tr",
      { class: [`tier-row-${it.tier}`, it.listed ? "listed-row" : null], "data-uscc": it.uscc },
      h("td", {}, h("a", { href: ctx.link("subject", [it.uscc]) }, it.uscc)),
      h("td", {}, it.name),
      h("td", {}, h("span", { class: ["badge", `tier-${it.tier}`] }, TIERS[it.tier] ? TIERS[it.tier].join(" ") : it.tier)),
      h("td", {}, it.grade),
      h("td", {}, it.basis),
      h("td", {}, gradeBadge(it.public_grade)),
      h("td", {}, it.industry_grade || "—"),
      h("td", {}, it.listed ? h("span", { class: "badge flag-listed" }, "名单内 listed") : ""),
      h("td", {}, it.as_of),
    ),
  );
  fill(
    list,
    data.items.length
      ? h(
          "table",
          { class: "data", id: "worklist-table" },
          h("thead", {}, h("tr", {}, ["代码 USCC", "名称 name", "层级 tier", "等级 grade", "依据 basis", "公共评价 public", "行业 industry", "名单 listed", "基准日 as of"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : message("info", "没有符合条件的主体 no subjects match"),
  );
  exportButton.disabled = data.items.length === 0;
  exportButton.addEventListener("click", async () => {
    let exported;
    try {
      exported = await loadWorklist(field, tier, grade, PURPOSE_EXPORT);
    } catch (error) {
      fill(list, message("error", explain(error)));
      return;
    }
    const lines = [COLUMNS.map(csvCell).join(",")];
    for (const it of exported.items) lines.push(COLUMNS.map((c) => csvCell(it[c])).join(","));
    const name = `worklist-${field}${tier ? `-${tier}` : ""}${grade ? `-${grade}` : ""}-${todayCST()}.csv`;
    download(name, `\ufeff${lines.join("\r\n")}\r\n`, "text/csv;charset=utf-8");
  });
}
