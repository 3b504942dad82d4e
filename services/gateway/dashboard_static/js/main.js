// The dashboard: who is signed in, the period and language, then every section loaded from the
// API. The state a view depends on (period, language, points filters, an opened application)
// is in the URL's fragment, so a view can be bookmarked. A change of language, or opening an
// application, draws again from the figures already loaded; a change of period or filter
// loads them again. Only the latest change draws: answers to an older one are dropped.

import { getJSON, user } from "./api.js";
import { closeApplication, showApplication } from "./application.js";
import { label, language, nameOf, setLanguage, t } from "./i18n.js";
import { loadGovernance, renderGovernance } from "./governance.js";
import { loadDue, loadNames, loadStats, renderCards, renderDue, renderLoanPanels } from "./loans.js";
import * as period from "./period.js";
import { loadPoints, renderPoints } from "./points.js";

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
const SECTIONS = {
  loans: ["cards", "loan-panels", "due-panels"],
  points: ["points-panels"],
  governance: ["governance-panels"],
};
let names = null;
let who = null;
let generation = 0;
let renders = 0;
const loaded = {}; // section → {key, data}

function fragment() {
  return new URLSearchParams(window.location.hash.slice(1));
}

function report(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function pointsChoice(params) {
  return {
    period: params.get("points") || "",
    district: params.get("district") || "",
    industry: params.get("industry") || "",
    category: params.get("category") || "",
  };
}

const STALE = Symbol("a newer render began");

/** Load a section's figures unless the same ones are loaded; STALE when a newer render began. */
async function figures(section, key, load, mine) {
  if (loaded[section]?.key === key) return loaded[section].data;
  const data = await load();
  if (mine !== generation) return STALE;
  loaded[section] = { key, data };
  return data;
}

async function drawSection(section, key, load, draw, mine) {
  try {
    const data = await figures(section, key, load, mine);
    if (data !== STALE) draw(data);
  } catch (error) {
    if (mine !== generation) return;
    delete loaded[section];
    for (const id of SECTIONS[section]) $(id).replaceChildren(); // never the last period's figures
    report(error);
  }
}

/** The category filter's options in the page's language. */
function labelFilters() {
  for (const option of filters.category.options) {
    if (option.value) option.textContent = label(names.categories, option.value);
  }
}

function showWho() {
  const bank = who.bank_code ? nameOf(names.banks, who.bank_code) : t("bureau");
  $("who").textContent = `${who.name} · ${bank}`;
  $("lang").textContent = language() === "zh" ? "English" : "中文";
  $("lang").lang = language() === "zh" ? "en" : "zh-CN";
  document.title = `${t("title")} — InnoCredit`;
}

async function renderAll() {
  generation += 1;
  const mine = generation;
  $("error").hidden = true;
  const params = fragment();
  setLanguage(params.get("lang") || "zh");
  showWho();
  labelFilters();
  document.body.dataset.state = "loading";
  const choice = period.fromFragment(params);
  period.render(choice, controls);
  const { from, to } = period.range(choice);
  const points = pointsChoice(params);
  const chosen = { district: points.district, industry: points.industry, category: points.category };
  for (const [name, select] of Object.entries(filters)) select.value = chosen[name];
  await Promise.all([
    drawSection(
      "loans",
      `${from}|${to}`,
      () => Promise.all([loadStats(from, to), loadDue()]),
      ([stats, due]) => {
        renderCards($("cards"), stats.total);
        renderLoanPanels($("loan-panels"), stats, names, from, to, report);
        renderDue($("due-panels"), due, names, report);
      },
      mine,
    ),
    drawSection(
      "points",
      JSON.stringify(points),
      () => loadPoints(points.period || null, chosen),
      (data) => {
        const shown = data ? data.ranking.period : Number(points.period);
        $("points-period").value = shown;
        renderPoints($("points-panels"), data, shown, chosen, names, report);
      },
      mine,
    ),
    // Rule changes and drift are the bureau's (the API refuses them to a bank's user).
    who.role === "bureau"
      ? drawSection(
          "governance",
          "latest",
          loadGovernance,
          (data) => renderGovernance($("governance-panels"), data, report),
          mine,
        )
      : null,
  ]);
  if (mine !== generation) return; // a newer change draws the page
  const open = params.get("application");
  try {
    if (open) await showApplication(open, names);
    else closeApplication();
  } catch (error) {
    report(error);
  }
  if (mine !== generation) return;
  renders += 1;
  document.body.dataset.renders = String(renders); // tests wait for the next render
  document.body.dataset.state = "ready";
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
  const [me, names_, vocabulary] = await Promise.all([user(), loadNames(), getJSON("/dashboard/vocabulary.json")]);
  who = me;
  $("governance").hidden = who.role !== "bureau";
  names = { ...names_, stages: vocabulary.stages, categories: vocabulary.categories };
  fillSelect(filters.district, vocabulary.districts.map((d) => [d, d]));
  fillSelect(filters.industry, Object.values(names.industries).map((i) => [i.code, i.name]));
  fillSelect(filters.category, Object.keys(vocabulary.categories.zh).map((code) => [code, code]));

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
  $("application").addEventListener("close", () => {
    if (fragment().has("application")) update((p) => p.delete("application"));
  });
  window.addEventListener("hashchange", renderAll);
  await renderAll();
}

start().catch(report);
