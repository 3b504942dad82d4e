// The period selector: a year, half-year, quarter, month or a custom range of Asia/Shanghai
// business dates, turned into the `from` and `to` the statistics API takes (both inclusive).
// The choice lives in the URL's fragment (#kind=half&year=2026&part=1), so a view can be
// bookmarked and shared; the default is this year.

import { language, t } from "./i18n.js";

const PARTS = { year: 1, half: 2, quarter: 4, month: 12 };

/** Today's business date in Asia/Shanghai, "YYYY-MM-DD". */
export function today() {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(new Date());
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function lastDay(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** {from, to} of a period choice. */
export function range(choice) {
  if (choice.kind === "custom") return { from: choice.from, to: choice.to };
  const months = 12 / PARTS[choice.kind];
  const first = (choice.part - 1) * months + 1;
  const last = first + months - 1;
  return {
    from: `${choice.year}-${pad(first)}-01`,
    to: `${choice.year}-${pad(last)}-${pad(lastDay(choice.year, last))}`,
  };
}

/** The choice in the URL's fragment, or this year. */
export function fromFragment(params) {
  const year = Number(today().slice(0, 4));
  const asked = params.get("kind");
  const kind = Object.hasOwn(PARTS, asked) || asked === "custom" ? asked : "year";
  const askedYear = Number(params.get("year"));
  const choice = {
    kind,
    year: Number.isInteger(askedYear) && askedYear >= 2000 && askedYear <= 2100 ? askedYear : year,
    part: Number(params.get("part")) || 1,
    from: params.get("from") || `${year}-01-01`,
    to: params.get("to") || today(),
  };
  if (kind !== "custom") choice.part = Math.min(Math.max(choice.part, 1), PARTS[kind]);
  return choice;
}

/** Write the choice into the fragment parameters. */
export function toFragment(choice, params) {
  for (const name of ["kind", "year", "part", "from", "to"]) params.delete(name);
  params.set("kind", choice.kind);
  if (choice.kind === "custom") {
    params.set("from", choice.from);
    params.set("to", choice.to);
  } else {
    params.set("year", choice.year);
    if (choice.kind !== "year") params.set("part", choice.part);
  }
}

function partLabel(kind, part) {
  const zh = language() === "zh";
  if (kind === "half") return zh ? ["上半年", "下半年"][part - 1] : `H${part}`;
  if (kind === "quarter") return zh ? `第${part}季度` : `Q${part}`;
  const month = new Date(Date.UTC(2000, part - 1, 1));
  return zh ? `${part}月` : month.toLocaleString("en", { month: "short", timeZone: "UTC" });
}

/** Show `choice` in the selector's controls. */
export function render(choice, controls) {
  controls.kind.value = choice.kind;
  controls.year.value = choice.year;
  const custom = choice.kind === "custom";
  controls.yearLabel.hidden = custom;
  controls.partLabel.hidden = custom || choice.kind === "year";
  controls.fromLabel.hidden = !custom;
  controls.toLabel.hidden = !custom;
  controls.part.replaceChildren();
  if (!custom && choice.kind !== "year") {
    for (let p = 1; p <= PARTS[choice.kind]; p += 1) {
      controls.part.append(new Option(partLabel(choice.kind, p), String(p)));
    }
    controls.part.value = String(choice.part);
  }
  controls.from.value = choice.from;
  controls.to.value = choice.to;
  const { from, to } = range(choice);
  controls.range.textContent = `${from} — ${to}`;
  controls.range.title = `${t("from")} ${from} ${t("to")} ${to}`;
}

/** The choice the controls show now. */
export function read(controls) {
  return {
    kind: controls.kind.value,
    year: Number(controls.year.value),
    part: Number(controls.part.value) || 1,
    from: controls.from.value,
    to: controls.to.value,
  };
}
