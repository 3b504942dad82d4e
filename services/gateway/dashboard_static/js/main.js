// The dashboard: who is signed in, the period and language, then every section loaded from the
// API. The state a view depends on (period, language, points filters, an open application) is in
// the URL's fragment, so a view can be bookmarked.

import { getJSON, user } from "./api.js";
import { language, setLanguage, t } from "./i18n.js";
import { loadDue, loadNames, loadStats, renderCards, renderDue, renderLoanPanels } from "./loans.js";
import * as period from "./period.js";
import { loadPoints, renderPoints } from "./points.js";
import { showApplication } from "./application.js";

const $ = (id) => document.getElementById(id);
const controls = {
  kind: $("period-kind"),
  year: $("period-year"),
  part: $("period-part"),
  from: $("period-from"),
  to: $("period-to"),
  yearLabel: $("period-year-label"),
  partLabel: $("period-part-label"),
  fromLabel: $("period-from-label"),
  toLabel: $("period-to-label"),
  range: $("period-range"),
};
const filters = { district: $("f-district"), industry: $("f-industry"), category: $("f-category") };
let names = null;
let renders = 0;

function fragment() {
  return new URLSearchParams(window.location.hash.slice(1));
}

function report(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
  console.warn(error); // eslint-disable-line no-console -- a warning, not an error: the page shows it
}

function clearReport() {
  $("error").hidden = true;
}

function pointsChoice(params) {
  return {
    period: params.get("points") || "",
    district: params.get("district") || "",
    industry: params.get("industry") || "",
    category: params.get("category") || "",
  };
}

async function renderLoans(params) {
  const choice = period.fromFragment(params);
  period.render(choice, controls);
  const { from, to } = period.range(choice);
  const [stats, due] = await Promise.all([loadStats(from, to), loadDue()]);
  renderCards($("cards"), stats.total);
  renderLoanPanels($("loan-panels"), stats, names, from, to, report);
  renderDue($("due-panels"), due, names, report);
}

async function renderPointsSection(params) {
  const choice = pointsChoice(params);
  const chosen = { district: choice.district, industry: choice.industry, category: choice.category };
  for (const [name, select] of Object.entries(filters)) select.value = chosen[name];
  const points = await loadPoints(choice.period || null, chosen);
  const shown = points ? points.ranking.period : Number(choice.period);
  $("points-period").value = shown;
  renderPoints($("points-panels"), points, shown, chosen, names, report);
}

async function renderAll() {
  clearReport();
  const params = fragment();
  setLanguage(params.get("lang") || "zh");
  $("lang").textContent = language() === "zh" ? "English" : "中文";
  document.body.dataset.state = "loading";
  try {
    await Promise.all([renderLoans(params), renderPointsSection(params)]);
    const open = params.get("application");
    if (open) await showApplication(open, names);
  } catch (error) {
    report(error);
  } finally {
    renders += 1;
    document.body.dataset.renders = String(renders); // tests wait for the next render
    document.body.dataset.state = "ready";
  }
}

function update(change) {
  const params = fragment();
  change(params);
  window.location.hash = params.toString(); // → hashchange → renderAll
}

function fillSelect(select, entries) {
  for (const [value, text] of entries) select.append(new Option(text, value));
}

async function start() {
  const [who, loaded, vocabulary] = await Promise.all([user(), loadNames(), getJSON("/dashboard/vocabulary.json")]);
  names = { ...loaded, stages: vocabulary.stages, categories: vocabulary.categories };
  const bank = who.bank_code ? names.banks[who.bank_code]?.name || who.bank_code : t("bureau");
  $("who").textContent = `${who.name} · ${bank}`;
  fillSelect(filters.district, vocabulary.districts.map((d) => [d, d]));
  fillSelect(filters.industry, Object.values(names.industries).map((i) => [i.code, i.name]));
  fillSelect(filters.category, Object.entries(vocabulary.categories));

  for (const control of [controls.kind, controls.year, controls.part, controls.from, controls.to]) {
    control.addEventListener("change", () => {
      const choice = period.read(controls);
      if (control === controls.kind && choice.kind !== "custom") choice.part = 1;
      update((params) => period.toFragment(choice, params));
    });
  }
  $("points-period").addEventListener("change", (event) => update((p) => p.set("points", event.target.value)));
  for (const [name, select] of Object.entries(filters)) {
    select.addEventListener("change", () =>
      update((params) => (select.value ? params.set(name, select.value) : params.delete(name))),
    );
  }
  $("lang").addEventListener("click", () => update((p) => p.set("lang", language() === "zh" ? "en" : "zh")));
  $("application").addEventListener("close", () => update((p) => p.delete("application")));
  window.addEventListener("hashchange", renderAll);
  await renderAll();
}

start().catch(report);
