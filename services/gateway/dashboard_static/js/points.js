// The points section: a period's distribution (histogram and quantiles) and its top 100 with
// where each firm stood in the period before and the 泰信保 waiver that ranking decides for the
// next year — all from /v1/scoring and /v1/guarantee, filtered by district, industry, category.

import { ApiError, getAll, getJSON } from "./api.js";
import { histogram } from "./charts.js";
import { count, decimal } from "./format.js";
import { label, nameOf, t } from "./i18n.js";
import { element, panel } from "./panels.js";

const BINS = 20;

/** The period's distribution, top 100 and the next year's waivers (null: no ranking yet). */
export async function loadPoints(period, filters) {
  const params = { period, ...filters };
  // A period has a ranking when it has a recompute run (its latest run is the ranking): asked
  // first, so a period without one is an empty list, not a 404 the browser logs as an error.
  const runs = await getJSON("/v1/scoring/runs", { period, limit: 1 });
  if (runs.items.length === 0) return null;
  try {
    const [distribution, ranking] = await Promise.all([
      getJSON("/v1/scoring/distribution", { ...params, bins: BINS }),
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

function binLabel(bin) {
  return `${decimal(bin.lower)}–${decimal(bin.upper)}`;
}

/** Where the firm was in the period before: its points and overall rank, and the move. */
function previous(entry) {
  if (entry.previous_rank === null || entry.previous_rank === undefined) {
    return element("span", { class: "new" }, t("newEntry"));
  }
  return `${entry.previous_points} / ${entry.previous_rank}`;
}

function move(entry) {
  if (entry.previous_rank === null || entry.previous_rank === undefined) return "";
  const moved = entry.previous_rank - entry.overall_rank;
  const text = moved > 0 ? `↑${moved}` : moved < 0 ? `↓${-moved}` : "—";
  return element("span", { class: moved > 0 ? "up" : moved < 0 ? "down" : null }, text);
}

/** The distribution and top-100 panels (or one line saying the period has no ranking). */
export function renderPoints(container, points, period, filters, names, report) {
  if (points === null) {
    container.replaceChildren(element("p", { class: "note", dataset: { noRanking: "" } }, `${period}: ${t("noRanking")}`));
    return;
  }
  container.querySelector("[data-no-ranking]")?.remove();
  const { distribution, ranking, waived } = points;
  const bins = distribution.histogram;
  const labels = bins.map(binLabel);
  const binOf = (value) => {
    const index = bins.findIndex((b, i) => value < b.upper || i === bins.length - 1);
    return labels[Math.max(index, 0)];
  };
  const quantiles = Object.entries(distribution.quantiles);
  const marks = quantiles.filter(([q]) => ["p25", "p50", "p75", "p90"].includes(q));
  panel(
    container,
    {
      id: "distribution",
      title: `${t("distribution")} · ${distribution.period} · ${distribution.model_version}`,
      note: `${t("count")} ${count(distribution.count)} · ${t("mean")} ${decimal(distribution.mean)} · ${t(
        "quantiles",
      )} ${quantiles.map(([q, v]) => `${q} ${decimal(v)}`).join(" · ")}`,
      option: histogram(labels, bins.map((b) => b.count), t("count"), marks.map(([q, v]) => ({ name: q, bin: binOf(v) }))),
      columns: [
        { label: t("bin"), value: binLabel },
        { label: t("count"), value: (b) => count(b.count), numeric: true },
      ],
      rows: bins,
      source: {
        path: "/v1/scoring/distribution",
        params: { period: distribution.period, bins: BINS, ...filters },
        filename: `distribution-${distribution.period}`,
      },
    },
    report,
  );
  panel(
    container,
    {
      id: "top100",
      title: `${t("top100")} · ${ranking.period} · ${ranking.model_version}`,
      note: t("fullRanking"),
      option: null,
      open: true,
      wide: true,
      columns: [
        { label: t("rank"), value: (e) => String(e.rank), numeric: true },
        { label: t("enterprise"), value: (e) => e.name },
        { label: t("uscc"), value: (e) => e.uscc },
        { label: t("district"), value: (e) => e.district },
        { label: t("industry"), value: (e) => nameOf(names.industries, e.industry) },
        { label: t("category"), value: (e) => e.categories.map((c) => label(names.categories, c)).join("、") },
        { label: t("pointsCol"), value: (e) => String(e.points), numeric: true },
        { label: t("overallRank"), value: (e) => String(e.overall_rank), numeric: true },
        { label: t("previous"), value: previous, numeric: true },
        { label: t("change"), value: move, numeric: true },
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
