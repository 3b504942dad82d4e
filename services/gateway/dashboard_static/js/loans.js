// The loan figures: the cards, the charts by bank × product, month, district, industry and
// stage, on time by bank, and the applications awaiting a decision. Each figure is a field of
// GET /v1/loans/stats (or an item of GET /v1/loans/applications) as the API returned it.

import { getAll, getJSON } from "./api.js";
import { bars, countsAndAmount, rateAgainstGoal, stackedBars } from "./charts.js";
import { count, days, instant, percent, yi, yiNumber, yuan } from "./format.js";
import { label, nameOf, t } from "./i18n.js";
import { element, panel } from "./panels.js";

const STATS = "/v1/loans/stats";
const GROUPS = ["bank", "product", "month", "district", "industry", "stage"];

/** Everything the loan section shows for `from`..`to`: the total and each grouping. */
export async function loadStats(from, to) {
  const calls = [getJSON(STATS, { from, to }), ...GROUPS.map((g) => getJSON(STATS, { from, to, group_by: g }))];
  const [total, ...grouped] = await Promise.all(calls);
  return { total: total.total, by: Object.fromEntries(GROUPS.map((g, i) => [g, grouped[i].groups])) };
}

/** Banks, products and industries by code (names from the API). */
export async function loadNames() {
  const [banks, products, industries] = await Promise.all([
    getAll("/v1/loans/banks"),
    getAll("/v1/loans/products"),
    getAll("/v1/scoring/industries"),
  ]);
  const byCode = (items) => Object.fromEntries(items.map((i) => [i.code, i]));
  return { banks: byCode(banks), products: byCode(products), industries: byCode(industries) };
}

function card(key, value, options = {}) {
  return element(
    "div",
    { class: "card", dataset: { card: key }, title: options.title },
    element("div", { class: "label", id: `card-${key}` }, t(key)),
    element(
      "div",
      { class: "value" },
      element("span", { class: "figure" }, value),
      options.unit ? element("span", { class: "unit" }, options.unit) : null,
      options.title ? element("span", { class: "visually-hidden" }, ` (${options.title})`) : null,
    ),
    options.extra || null,
  );
}

/** The cards of the period's total. */
export function renderCards(container, total) {
  const onTime = total.on_time_rate;
  const meter =
    onTime === null
      ? null
      : element("meter", {
          min: "0",
          max: "1",
          low: "0.9",
          optimum: "1",
          value: String(onTime),
          "aria-labelledby": "card-onTimeRate",
        });
  container.replaceChildren(
    card("applications", count(total.applications)),
    card("approved", count(total.approved)),
    card("disbursedCount", count(total.disbursed_count)),
    card("disbursedAmount", yi(total.disbursed_amount), {
      unit: t("yi"),
      title: `${yuan(total.disbursed_amount)} ${t("yuan")}`,
    }),
    card("approvalRate", percent(total.approval_rate)),
    card("medianDays", days(total.median_decision_working_days), { unit: t("workingDays") }),
    card("meanDays", days(total.avg_decision_working_days), { unit: t("workingDays") }),
    card("onTimeRate", percent(onTime), {
      title: t("goal"),
      extra: element("div", { class: "goal" }, meter, element("small", {}, t("goalShort"))),
    }),
    card("decisionOverdue", count(total.decision_overdue_count), { extra: null }),
  );
}

function figureColumns(groupLabel, name) {
  return [
    { label: groupLabel, value: (r) => name(r.group) },
    { label: t("applications"), value: (r) => count(r.applications), numeric: true },
    { label: t("approved"), value: (r) => count(r.approved), numeric: true },
    { label: t("disbursedCount"), value: (r) => count(r.disbursed_count), numeric: true },
    { label: t("amount"), value: (r) => yuan(r.disbursed_amount), numeric: true },
    { label: t("approvalRate"), value: (r) => percent(r.approval_rate), numeric: true },
    { label: t("medianDays"), value: (r) => days(r.median_decision_working_days), numeric: true },
    { label: t("onTimeRate"), value: (r) => percent(r.on_time_rate), numeric: true },
  ];
}

function statsSource(from, to, groupBy) {
  return { path: STATS, params: { from, to, group_by: groupBy }, filename: `stats-${groupBy}-${from}-${to}` };
}

/** The loan charts, each with its table and downloads. */
export function renderLoanPanels(container, stats, names, from, to, report) {
  const bankName = (code) => nameOf(names.banks, code);
  const productName = (code) => nameOf(names.products, code);
  const industryName = (code) => nameOf(names.industries, code);
  const same = (code) => code;

  // Bank × product: the product rows stacked under their bank.
  const productRows = stats.by.product;
  const bankOf = (product) => names.products[product]?.bank_code ?? product;
  // The banks in the order of the per-bank figures (and the other charts).
  const bankCodes = [...new Set([...stats.by.bank.map((r) => r.group), ...productRows.map((r) => bankOf(r.group))])];
  panel(
    container,
    {
      id: "bank-product",
      title: t("byBankProduct"),
      wide: true,
      option: stackedBars(
        bankCodes.map(bankName),
        productRows.map((r) => ({
          name: productName(r.group),
          data: bankCodes.map((b) => (bankOf(r.group) === b ? yiNumber(r.disbursed_amount) : 0)),
        })),
        t("yi"),
      ),
      columns: [
        { label: t("bank"), value: (r) => bankName(bankOf(r.group)) },
        ...figureColumns(t("product"), productName),
      ],
      rows: productRows,
      source: statsSource(from, to, "product"),
    },
    report,
  );

  const months = stats.by.month;
  panel(
    container,
    {
      id: "monthly",
      title: t("monthlyTrend"),
      option: countsAndAmount(
        months.map((r) => r.group),
        months.map((r) => r.applications),
        t("applications"),
        months.map((r) => yiNumber(r.disbursed_amount)),
        t("disbursedAmount"),
        t("yi"),
      ),
      columns: figureColumns(t("monthCol"), same),
      rows: months,
      source: statsSource(from, to, "month"),
    },
    report,
  );
  panel(
    container,
    {
      id: "monthly-on-time",
      title: t("monthlyOnTime"),
      option: rateAgainstGoal(
        months.map((r) => r.group),
        months.map((r) => (r.on_time_rate === null ? null : Number((r.on_time_rate * 100).toFixed(2)))),
        t("onTimeRate"),
        t("goal"),
        "line",
      ),
      columns: figureColumns(t("monthCol"), same),
      rows: months,
      source: statsSource(from, to, "month"),
    },
    report,
  );

  const banks = stats.by.bank;
  panel(
    container,
    {
      id: "on-time-bank",
      title: t("onTimeByBank"),
      option: rateAgainstGoal(
        banks.map((r) => bankName(r.group)),
        banks.map((r) => (r.on_time_rate === null ? null : Number((r.on_time_rate * 100).toFixed(2)))),
        t("onTimeRate"),
        t("goal"),
        "bar",
      ),
      columns: figureColumns(t("bank"), bankName),
      rows: banks,
      source: statsSource(from, to, "bank"),
    },
    report,
  );

  const dimensions = [
    ["district", "byDistrict", t("district"), same],
    ["industry", "byIndustry", t("industry"), industryName],
    ["stage", "byStage", t("stage"), (code) => label(names.stages, code)],
  ];
  for (const [groupBy, title, groupLabel, name] of dimensions) {
    const rows = stats.by[groupBy];
    panel(
      container,
      {
        id: groupBy,
        title: t(title),
        option: bars(rows.map((r) => name(r.group)), rows.map((r) => yiNumber(r.disbursed_amount)), t("disbursedAmount"), t("yi")),
        columns: figureColumns(groupLabel, name),
        rows,
        source: statsSource(from, to, groupBy),
      },
      report,
    );
  }
}

/** The address of this view with application `id` opened (the period and filters kept). */
function linkTo(id) {
  const params = new URLSearchParams(window.location.hash.slice(1));
  params.set("application", id);
  return `#${params}`;
}

const DUE = [
  ["overdue", "overdue"],
  ["today", "dueToday"],
  ["tomorrow", "dueTomorrow"],
];

/** The applications awaiting a decision: overdue, due today, due tomorrow (first page each). */
export async function loadDue() {
  const pages = await Promise.all(
    DUE.map(([when]) => getJSON("/v1/loans/applications", { decision_due: when, limit: 100 })),
  );
  return Object.fromEntries(DUE.map(([when], i) => [when, pages[i]]));
}

/** The three tables of applications awaiting a decision, each row linking to the application. */
export function renderDue(container, due, names, report) {
  const bankName = (code) => nameOf(names.banks, code);
  const productName = (code) => nameOf(names.products, code);
  const columns = [
    {
      label: t("applications"),
      value: (a) => element("a", { href: linkTo(a.id), dataset: { application: a.id } }, a.id.slice(0, 8)),
    },
    { label: t("bank"), value: (a) => bankName(a.bank_code) },
    { label: t("product"), value: (a) => productName(a.product_code) },
    { label: t("uscc"), value: (a) => a.uscc },
    { label: t("amount"), value: (a) => yuan(a.amount), numeric: true },
    { label: t("submittedAt"), value: (a) => instant(a.submitted_at) },
    { label: t("dueAt"), value: (a) => instant(a.decision_due_at) },
    { label: t("elapsed"), value: (a) => count(a.working_days_elapsed), numeric: true },
  ];
  for (const [when, title] of DUE) {
    const page = due[when];
    panel(
      container,
      {
        id: `due-${when}`,
        title: page.next_cursor ? `${t(title)} (${t("firstN", { n: page.items.length })})` : `${t(title)} (${page.items.length})`,
        option: null,
        open: true,
        wide: true,
        columns,
        rows: page.items,
        source: { path: "/v1/loans/applications", params: { decision_due: when }, filename: `applications-due-${when}` },
      },
      report,
    );
  }
}
