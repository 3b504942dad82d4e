// The points section: a period's distribution (histogram and quantiles) and its top 100 with
// the change against the period before and the 泰信保 waiver the ranking decides for the next
// year — all from /v1/scoring and /v1/guarantee, filtered by district, industry and category.

import { ApiError, getAll, getJSON } from "./api.js";
import { histogram } from "./charts.js";
import { count } from "./format.js";
import { label, t } from "./i18n.js";
import { element, panel } from "./panels.js";

/** The period's distribution, top 100 and the next year's waivers (null: no ranking yet). */
export async function loadPoints(period, filters) {
  const params = { period, ...filters };
  try {
    const [distribution, ranking] = await Promise.all([
      getJSON("/v1/scoring/distribution", { ...params, bins: 20 }),
      getJSON("/v1/scoring/rankings", { ...params, limit: 100 }),
    ]);
    // A year's waivers follow from the period before's ranking: the guarantee service's list,
    // so the page never applies the waiver rule itself.
    const waivers = await getAll(`/v1/guarantee/waivers/${ranking.period + 1}`);
    return { distribution, ranking, waived: new Set(waivers.map((w) => w.uscc)) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function change(entry) {
  if (entry.previous_rank === null || entry.previous_rank === undefined) {
    return element("span", { class: "new" }, t("newEntry"));
  }
  const moved = entry.previous_rank - entry.overall_rank;
  const text = moved > 0 ? `↑${moved}` : moved < 0 ? `↓${-moved}` : "—";
  return element(
    "span",
    { class: moved > 0 ? "up" : moved < 0 ? "down" : null, title: `${entry.previous_rank} → ${entry.overall_rank}` },
    text,
  );
}

/** The distribution and top-100 panels (or one line saying the period has no ranking). */
export function renderPoints(container, points, period, filters, names, report) {
  if (points === null) {
    container.replaceChildren(element("p", { class: "note", dataset: { testid: "no-ranking" } }, `${period}: ${t("noRanking")}`));
    return;
  }
  if (container.querySelector(".note[data-testid=no-ranking]")) container.replaceChildren();
  const { distribution, ranking, waived } = points;
  const labels = distribution.histogram.map((b) => `${b.from}–${b.to}`);
  const binOf = (value) => {
    const index = distribution.histogram.findIndex((b) => value <= b.to);
    return labels[index === -1 ? labels.length - 1 : index];
  };
  const quantiles = Object.entries(distribution.quantiles);
  panel(
    container,
    {
      id: "distribution",
      title: `${t("distribution")} · ${distribution.period} · ${distribution.model_version}`,
      note: `${t("count")} ${count(distribution.count)} · ${t("mean")} ${distribution.mean} · ${t("quantiles")} ${quantiles
        .map(([q, v]) => `${q} ${v}`)
        .join(" · ")}`,
      option: histogram(labels, distribution.histogram.map((b) => b.count), t("count"),
        quantiles.filter(([q]) => ["p25", "p50", "p75", "p90"].includes(q)).map(([q, v]) => ({ name: q, bin: binOf(v) }))),
      columns: [
        { label: t("bin"), value: (b) => `${b.from}–${b.to}` },
        { label: t("count"), value: (b) => count(b.count), numeric: true },
      ],
      rows: distribution.histogram,
      source: null,
    },
    report,
  );
  const industryName = (code) => (names.industries[code] ? names.industries[code].name : code);
  panel(
    container,
    {
      id: "top100",
      title: `${t("top100")} · ${ranking.period} · ${ranking.model_version}`,
      option: null,
      open: true,
      wide: true,
      columns: [
        { label: t("rank"), value: (e) => String(e.rank), numeric: true },
        { label: t("enterprise"), value: (e) => e.name },
        { label: t("uscc"), value: (e) => e.uscc },
        { label: t("district"), value: (e) => e.district },
        { label: t("industry"), value: (e) => industryName(e.industry) },
        { label: t("category"), value: (e) => e.categories.map((c) => label(names.categories, c)).join("、") },
        { label: t("pointsCol"), value: (e) => String(e.points), numeric: true },
        { label: t("change"), value: change, numeric: true },
        {
          label: `${t("waiver")} ${ranking.period + 1}`,
          value: (e) => (waived.has(e.uscc) ? t("waived") : t("notWaived")),
        },
      ],
      rows: ranking.items,
      source: {
        path: "/v1/scoring/rankings",
        params: { period: ranking.period, ...filters },
        filename: `ranking-${ranking.period}`,
      },
    },
    report,
  );
}
