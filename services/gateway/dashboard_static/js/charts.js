// ECharts options for the page's charts. Every chart is drawn with the SVG renderer (its marks
// are DOM elements a test can find) without animation, with the accessibility description on
// and the tooltip drawn by the chart itself ("richText": the HTML tooltip would need inline
// styles, which the page's Content-Security-Policy forbids).

import { language } from "./i18n.js";

const PALETTE = ["#1f5fa8", "#e0812b", "#3a9a5b", "#c23b3b", "#7a56b0", "#8c6d31", "#d16fb5", "#5b6b7a", "#2aa0a6"];

function twoDecimals(value) {
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value ?? "—");
}

function base() {
  return {
    animation: false,
    aria: { enabled: true },
    color: PALETTE,
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: twoDecimals },
    grid: { left: 56, right: 56, top: 40, bottom: 40, containLabel: true },
    legend: { top: 0, type: "scroll" },
  };
}

// Category labels (bank names are long) wrap instead of overlapping.
const CATEGORY_LABELS = { interval: 0, width: 84, overflow: "break", lineHeight: 14 };

function goalLine(name) {
  return {
    silent: true,
    symbol: "none",
    lineStyle: { type: "dashed", color: "#c23b3b" },
    label: { formatter: name, position: "insideEndTop" },
    data: [{ yAxis: 100 }],
  };
}

/** Draw `option` into `element` (a fresh SVG chart, or the one already there). */
export function draw(element, option) {
  const chart =
    window.echarts.getInstanceByDom(element) ||
    window.echarts.init(element, null, { renderer: "svg", locale: language() === "zh" ? "ZH" : "EN" });
  chart.setOption(option, true);
  return chart;
}

/** Stacked bars: one bar per category, one stack segment per series. */
export function stackedBars(categories, series, unit) {
  return {
    ...base(),
    xAxis: { type: "category", data: categories, axisLabel: CATEGORY_LABELS },
    yAxis: { type: "value", name: unit },
    series: series.map((s) => ({ type: "bar", stack: "total", name: s.name, data: s.data })),
  };
}

/** Bars of one figure per category. */
export function bars(categories, values, name, unit) {
  return {
    ...base(),
    legend: { show: false },
    xAxis: { type: "category", data: categories, axisLabel: CATEGORY_LABELS },
    yAxis: { type: "value", name: unit },
    series: [{ type: "bar", name, data: values }],
  };
}

/** Counts as bars (left axis) and an amount as a line (right axis), per month. */
export function countsAndAmount(months, counts, countName, amounts, amountName, unit) {
  return {
    ...base(),
    xAxis: { type: "category", data: months },
    yAxis: [
      { type: "value", name: countName },
      { type: "value", name: unit, splitLine: { show: false } },
    ],
    series: [
      { type: "bar", name: countName, data: counts },
      { type: "line", name: amountName, yAxisIndex: 1, data: amounts },
    ],
  };
}

/** Rates in percent against the 100 % goal (bars per group or a line per month). */
export function rateAgainstGoal(categories, percents, name, goalName, kind) {
  return {
    ...base(),
    legend: { show: false },
    xAxis: { type: "category", data: categories, axisLabel: CATEGORY_LABELS },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
    series: [{ type: kind, name, data: percents, markLine: goalLine(goalName) }],
  };
}

/** A histogram (bars touching) with the quantiles as vertical marks. */
export function histogram(labels, counts, name, quantileMarks) {
  return {
    ...base(),
    legend: { show: false },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name },
    series: [
      {
        type: "bar",
        name,
        data: counts,
        barCategoryGap: "2%",
        markLine: {
          silent: true,
          symbol: "none",
          lineStyle: { type: "dashed", color: "#555" },
          label: { formatter: "{b}", position: "end" },
          data: quantileMarks.map((q) => ({ name: q.name, xAxis: q.bin })),
        },
      },
    ],
  };
}

/** PSI per quantity as bars coloured by band, with the bands' edges (0.10 investigate, 0.25
 * significant). The axis stops at 1 (far beyond "significant"): a larger PSI — a quantity
 * missing in one period — runs off the top with its value written on it. */
export function psiBars(categories, values, name) {
  const edge = (value, color) => ({ yAxis: value, lineStyle: { type: "dashed", color }, label: { formatter: String(value) } });
  const colour = (psi) => (psi < 0.1 ? "#3a9a5b" : psi < 0.25 ? "#e0812b" : "#c23b3b");
  return {
    ...base(),
    legend: { show: false },
    xAxis: { type: "category", data: categories, axisLabel: { ...CATEGORY_LABELS, rotate: 30, overflow: "truncate" } },
    yAxis: { type: "value", name, max: (extent) => Math.max(0.3, Math.min(extent.max, 1)) },
    series: [
      {
        type: "bar",
        name,
        data: values,
        itemStyle: { color: (item) => colour(item.value) },
        label: {
          show: true,
          position: "insideTop",
          formatter: (item) => (item.value > 1 ? String(Math.round(item.value * 10) / 10) : ""),
        },
        markLine: { silent: true, symbol: "none", data: [edge(0.1, "#e0812b"), edge(0.25, "#c23b3b")] },
      },
    ],
  };
}
