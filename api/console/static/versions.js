// The model and policy versions the ledger grades with: the one in force today per kind, and
// each version's history with its record time (GET /v1/models/versions). A genesis version
// shipped with the code is known at every record time; a published one from its publication.

import { ApiError, api } from "./api.js";
import { bi, cstTime, fill, h, message } from "./dom.js";

const KIND_NAMES = {
  model: ["评价模型", "evaluation model"],
  supervision: ["监管政策", "supervision policy"],
  repair: ["修复政策", "repair policy"],
};

function known(v) {
  return v.known_from ? cstTime(v.known_from) : "随代码发布 genesis (always known)";
}

/** Fill `panel` with the versions in force and their history. */
export async function renderVersions(panel) {
  const title = h("h3", {}, bi("评价模型与政策版本", "Model and policy versions"));
  fill(panel, title, h("p", { class: "muted loading" }, "加载中 loading…"));
  let served;
  try {
    served = await api("/v1/models/versions");
  } catch (error) {
    fill(panel, title, message("error", error instanceof ApiError ? error.detail : String(error)));
    return;
  }
  const versions = served.versions;
  const inForce = versions.filter((v) => v.in_force_today);
  fill(
    panel,
    title,
    h(
      "dl",
      { class: "facts", id: "in-force" },
      inForce.map((v) => [
        h("dt", {}, bi(...KIND_NAMES[v.kind])),
        h("dd", { "data-kind": v.kind }, h("strong", {}, v.version), ` 自 from ${v.effective_from}`),
      ]),
    ),
    h(
      "table",
      { class: ["data", "compact"], id: "version-history" },
      h(
        "thead",
        {},
        h("tr", {}, ["类别 kind", "版本 version", "生效 in force from", "知悉 known from (UTC+8)", "位置 position", "发布 by", "说明 reason"].map((t) => h("th", {}, t))),
      ),
      h(
        "tbody",
        {},
        versions.map((v) =>
          h(
            "tr",
            { "data-version": v.version, class: v.in_force_today ? "in-force" : null },
            h("td", {}, KIND_NAMES[v.kind][0]),
            h("td", {}, v.version),
            h("td", {}, v.effective_from),
            h("td", { class: "nowrap small" }, known(v)),
            h("td", { class: "num" }, v.position === null ? "—" : `#${v.position}`),
            h("td", { class: "small" }, v.published_by || "—"),
            h("td", { class: "small" }, v.reason || "—"),
          ),
        ),
      ),
    ),
    h("p", { class: "muted small" }, "新版本发布后不改变已公布的年度结果，只改变重述。A version published later never changes a published annual result, only the restatement."),
  );
}
