// A panel: a heading, the chart (if any), the same figures as a table (for screen readers and
// copying) and downloads of those figures as CSV or XLSX from the API itself.

import { download } from "./api.js";
import { draw } from "./charts.js";
import { t } from "./i18n.js";

function element(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (value !== undefined && value !== null) el.setAttribute(name, value);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

export { element };

/** A table of `rows` under `columns` ({label, value(row) → text or Node, title?(row), numeric}). */
export function table(columns, rows, caption) {
  const head = element("tr", {}, ...columns.map((c) => element("th", { scope: "col" }, c.label)));
  const body = rows.length
    ? rows.map((row) =>
        element(
          "tr",
          {},
          ...columns.map((c, i) =>
            element(
              i === 0 ? "th" : "td",
              { scope: i === 0 ? "row" : null, class: c.numeric ? "num" : null, title: c.title ? c.title(row) : null },
              c.value(row),
            ),
          ),
        ),
      )
    : [element("tr", {}, element("td", { colspan: String(columns.length), class: "empty" }, t("none")))];
  return element(
    "table",
    {},
    element("caption", {}, caption),
    element("thead", {}, head),
    element("tbody", {}, ...body),
  );
}

function downloads(source, report) {
  const buttons = (source.kinds || ["csv", "xlsx"]).map((kind) => {
    const button = element("button", { type: "button", dataset: { download: kind } }, kind.toUpperCase());
    button.addEventListener("click", () => {
      download(source.path, source.params, kind, source.filename).catch(report);
    });
    return button;
  });
  return element("div", { class: "downloads" }, ...buttons);
}

/**
 * Put a panel into `container` (replacing one with the same id): `spec` has `id`, `title`,
 * `option` (an ECharts option, or null for a table-only panel), `columns`, `rows`, `source`
 * ({path, params, filename, kinds?}: the API call whose CSV/XLSX holds these figures; `kinds`
 * when it serves only some of them), and `open`
 * (show the table without a click).
 */
export function panel(container, spec, report) {
  const chartBox = spec.option
    ? element("div", { class: "chart", role: "img", "aria-label": spec.title, dataset: { chart: spec.id } })
    : null;
  const tableBox = element(
    "details",
    { class: "data", open: spec.open ? "" : null },
    element("summary", {}, t("table")),
    table(spec.columns, spec.rows, spec.title),
  );
  const article = element(
    "article",
    { class: spec.wide ? "panel wide" : "panel", id: `panel-${spec.id}`, dataset: { panel: spec.id } },
    element("header", {}, element("h3", {}, spec.title), spec.source ? downloads(spec.source, report) : null),
    spec.note ? element("p", { class: "note" }, spec.note) : null,
    chartBox,
    tableBox,
  );
  const old = container.querySelector(`#panel-${spec.id}`);
  if (old) {
    const oldChart = old.querySelector(".chart");
    if (oldChart && window.echarts.getInstanceByDom(oldChart)) window.echarts.dispose(oldChart);
    old.replaceWith(article);
  } else {
    container.append(article);
  }
  if (chartBox) draw(chartBox, spec.option);
  return article;
}
