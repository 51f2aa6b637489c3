// Charts drawn by hand as inline SVG: a score timeline with grade bands, and annual bars.

import { dayMs, s } from "./dom.js";
import { bands as bandsOf, gradeClass, gradeCode, gradeLabels } from "./models.js";

/**
 * Score over valid time.
 * points: [{date, score, grade, listed}] in date order; events: [{version, date, topic,
 * category, label}]; asOf: the date being viewed; onMarker(version) when a marker is chosen;
 * model: the version whose bands, floor and ceiling are drawn (as served by GET /v1/models).
 */
export function scoreChart({ points, start, end, asOf, current, events = [], onMarker, model }) {
  const { floor, ceiling, bands } = bandsOf(model);
  const W = 960;
  const H = events.length ? 330 : 290;
  const m = { l: 46, r: 70, t: 14, b: events.length ? 84 : 44 };
  const t0 = dayMs(start);
  const t1 = Math.max(dayMs(end), t0 + 1);
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const x = (date) => m.l + ((Math.min(Math.max(dayMs(date), t0), t1) - t0) / (t1 - t0)) * pw;
  const span = Math.max(ceiling - floor, 1);
  const y = (score) => m.t + ((ceiling - Math.min(Math.max(Number(score), floor), ceiling)) / span) * ph;

  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart score-chart",
    role: "img",
    "aria-label": "信用分随时间变化 score over time",
  });
  svg.append(s("title", {}, "信用分随时间变化 Score over time"));

  bands.forEach((band, i) => {
    // A band holds values strictly above its bound; the last holds the rest, up to the one above.
    const label = band.above === null ? `${band.label} ≤${bands[i - 1]?.above ?? ceiling}` : `${band.label} >${band.above}`;
    svg.append(
      s("rect", {
        x: m.l,
        y: y(band.to),
        width: pw,
        height: y(band.from) - y(band.to),
        class: `band ${gradeClass(band.label)}`,
        "data-grade": band.label,
        "data-from": band.from,
        "data-to": band.to,
      }),
      s("text", { x: W - m.r + 8, y: (y(band.from) + y(band.to)) / 2 + 4, class: "band-label" }, label),
    );
  });
  const ticks = [...new Set([floor, ...bands.map((b) => b.from), ceiling])].sort((a, b) => a - b);
  for (const tick of ticks) {
    svg.append(
      s("line", { x1: m.l, x2: m.l + pw, y1: y(tick), y2: y(tick), class: "grid" }),
      s("text", { x: m.l - 8, y: y(tick) + 4, class: "tick tick-y" }, String(tick)),
    );
  }
  const firstYear = Number(start.slice(0, 4));
  const lastYear = Number(end.slice(0, 4));
  for (let year = firstYear; year <= lastYear; year += 1) {
    const date = `${year}-01-01`;
    if (dayMs(date) < t0 || dayMs(date) > t1) continue;
    svg.append(
      s("line", { x1: x(date), x2: x(date), y1: m.t, y2: m.t + ph + 5, class: "grid grid-x" }),
      s("text", { x: x(date), y: m.t + ph + 20, class: "tick tick-x" }, String(year)),
    );
  }
  svg.append(s("rect", { x: m.l, y: m.t, width: pw, height: ph, class: "frame" }));

  if (asOf) {
    svg.append(
      s("line", { x1: x(asOf), x2: x(asOf), y1: m.t, y2: m.t + ph, class: "asof-line" }),
      s(
        "text",
        x(asOf) > m.l + pw - 110
          ? { x: x(asOf) - 4, y: m.t + ph - 6, class: "asof-label", "text-anchor": "end" }
          : { x: x(asOf) + 4, y: m.t + ph - 6, class: "asof-label" },
        `as of ${asOf}`,
      ),
    );
  }

  const valid = points.filter((p) => p && p.score !== undefined);
  if (valid.length) {
    const d = valid
      .map((p, i) => `${i ? "L" : "M"}${x(p.date).toFixed(1)},${y(p.score).toFixed(1)}`)
      .join(" ");
    svg.append(s("path", { d, class: "score-line" }));
    for (const p of valid) {
      svg.append(
        s(
          "circle",
          {
            cx: x(p.date),
            cy: y(p.score),
            r: 3.5,
            class: ["pt", gradeClass(p.grade), p.listed ? "listed" : null],
            "data-date": p.date,
            "data-score": p.score,
            "data-grade": p.grade,
          },
          s("title", {}, `${p.date}: ${p.score} ${p.grade}${p.listed ? " (listed 名单内)" : ""}`),
        ),
      );
    }
  }
  if (current) {
    svg.append(
      s(
        "circle",
        {
          cx: x(current.date),
          cy: y(current.score),
          r: 6.5,
          class: ["pt-current", gradeClass(current.grade)],
          "data-date": current.date,
          "data-score": current.score,
          "data-grade": current.grade,
        },
        s("title", {}, `as of ${current.date}: ${current.score} ${current.grade}`),
      ),
    );
  }

  if (events.length) {
    const lane = m.t + ph + 46;
    svg.append(
      s("line", { x1: m.l, x2: m.l + pw, y1: lane, y2: lane, class: "lane" }),
      s("text", { x: m.l - 8, y: lane + 4, class: "tick tick-y" }, "事件"),
    );
    for (const ev of events) {
      const cx = x(ev.date);
      const marker = s(
        "path",
        {
          d: `M${cx.toFixed(1)},${lane - 9} l6,11 l-12,0 z`,
          class: `marker cat-${ev.category}`,
          tabindex: 0,
          role: "button",
          "aria-label": `${ev.date} ${ev.topic}`,
          "data-version": ev.version,
        },
        s("title", {}, `${ev.date} · v${ev.version} · ${ev.label}\n${ev.topic}`),
      );
      const choose = () => onMarker && onMarker(ev.version);
      marker.addEventListener("click", choose);
      marker.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          choose();
        }
      });
      svg.append(marker);
    }
  }
  return svg;
}

/**
 * Annual grade distribution: for each year a published and a restated stacked bar.
 * years: [{year, published: {label: n, …}, restated: {…}, changed}]; model: whose grades.
 */
export function annualChart(years, model) {
  const GRADES = gradeLabels(model);
  const W = 960;
  const H = 340;
  const m = { l: 46, r: 16, t: 16, b: 62 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const total = (counts) => GRADES.reduce((n, g) => n + (counts?.[g] || 0), 0);
  const max = Math.max(1, ...years.flatMap((y) => [total(y.published), total(y.restated)]));
  const group = pw / Math.max(years.length, 1);
  const bar = Math.min(34, group / 3);
  const y = (n) => m.t + ph - (n / max) * ph;

  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart annual-chart",
    role: "img",
    "aria-label": "各年度等级分布 grade distribution per year",
  });
  svg.append(s("title", {}, "各年度等级分布（公布 vs 重述） Grade distribution, published vs restated"));
  const step = max > 200 ? 50 : max > 50 ? 10 : 5;
  for (let n = 0; n <= max; n += step) {
    svg.append(
      s("line", { x1: m.l, x2: m.l + pw, y1: y(n), y2: y(n), class: "grid" }),
      s("text", { x: m.l - 8, y: y(n) + 4, class: "tick tick-y" }, String(n)),
    );
  }
  years.forEach((entry, i) => {
    const gx = m.l + i * group + group / 2;
    [
      ["published", "公布", gx - bar - 3],
      ["restated", "重述", gx + 3],
    ].forEach(([key, label, bx]) => {
      let base = 0;
      for (const grade of [...GRADES].reverse()) {
        const n = entry[key]?.[grade] || 0;
        if (!n) continue;
        const top = y(base + n);
        const height = y(base) - top;
        svg.append(
          s(
            "rect",
            {
              x: bx,
              y: top,
              width: bar,
              height,
              class: `seg ${gradeClass(grade)}`,
              "data-year": entry.year,
              "data-kind": key,
              "data-grade": grade,
              "data-count": n,
            },
            s("title", {}, `${entry.year} ${label} ${grade} (${gradeCode(grade)}): ${n}`),
          ),
        );
        if (height >= 14) {
          svg.append(s("text", { x: bx + bar / 2, y: top + height / 2 + 4, class: "seg-label" }, String(n)));
        }
        base += n;
      }
      svg.append(s("text", { x: bx + bar / 2, y: m.t + ph + 16, class: "tick tick-x small" }, label));
    });
    svg.append(
      s(
        "text",
        { x: gx, y: m.t + ph + 36, class: ["tick", "tick-x", "year", entry.changed ? "differs" : null] },
        `${entry.year}${entry.changed ? ` · ${entry.changed} 变化` : ""}`,
      ),
    );
  });
  svg.append(s("line", { x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph, class: "axis" }));
  return svg;
}
