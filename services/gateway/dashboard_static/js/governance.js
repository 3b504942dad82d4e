// The bureau's view of the rules (model governance): the changes waiting for a second operator,
// each model change with the what-if figures of its impact report, and the latest drift of the
// points and indicators — all from /v1/admin/changes and /v1/scoring (impact, drift), which
// admit the bureau and operators only; a bank's user never sees this section.

import { getJSON } from "./api.js";
import { psiBars, stackedBars } from "./charts.js";
import { count, decimal, instant, yuan } from "./format.js";
import { t } from "./i18n.js";
import { element, panel } from "./panels.js";

const PENDING_SHOWN = 20;
const IMPACTS_SHOWN = 3; // each is a scoring of the whole period: about a second on the demo

/** The latest ranked period, and whether the year before it has a ranking (drift needs both). */
async function latestDrift() {
  const runs = await getJSON("/v1/scoring/runs", { limit: 1 });
  if (runs.items.length === 0) return null;
  const latest = await getJSON("/v1/scoring/rankings", { limit: 1 });
  const baseline = await getJSON("/v1/scoring/runs", { period: latest.period - 1, limit: 1 });
  if (baseline.items.length === 0) return { period: latest.period, drift: null };
  return { period: latest.period, drift: await getJSON("/v1/scoring/drift", { period: latest.period }) };
}

/** Pending changes (newest first), the impact reports they link to, and the latest drift. */
export async function loadGovernance() {
  const pending = await getJSON("/v1/admin/changes", { status: "pending", limit: PENDING_SHOWN });
  const linked = pending.items.filter((c) => c.links.impact).slice(0, IMPACTS_SHOWN);
  const [impacts, drift] = await Promise.all([
    Promise.all(linked.map(async (change) => ({ change, report: await getJSON(change.links.impact) }))),
    latestDrift(),
  ]);
  return { pending: pending.items, impacts, drift };
}

function bandText(stability) {
  return `${decimal(stability.psi)} · ${t(`band_${stability.band}`)}`;
}

function band(stability) {
  return element("span", { class: `band ${stability.band}` }, bandText(stability));
}

/** One line of a model change's impact: who moves, the top 100, the PSI. */
function impactLine(report) {
  return t("impactLine", {
    moved: count(report.rank_changes.moved),
    total: count(report.enterprise_count),
    entering: report.top.entering.length,
    leaving: report.top.leaving.length,
    year: report.top.waiver_year,
    psi: bandText(report.psi),
  });
}

function renderPending(container, pending, impacts) {
  const reports = new Map(impacts.map((i) => [i.change.id, i.report]));
  panel(container, {
    id: "pending-changes",
    title: t("pendingChanges"),
    note: t("pendingNote"),
    option: null,
    open: true,
    wide: true,
    columns: [
      { label: t("madeAt"), value: (c) => instant(c.made_at) },
      { label: t("changeKind"), value: (c) => t(`kind_${c.kind}`) },
      { label: t("summary"), value: (c) => c.summary },
      { label: t("maker"), value: (c) => c.maker },
      { label: t("impact"), value: (c) => (reports.has(c.id) ? impactLine(reports.get(c.id)) : "—") },
    ],
    rows: pending,
  });
}

function renderImpact(container, { change, report }, onError) {
  const buckets = report.rank_changes.buckets;
  const bucketLabel = (b) => (b.to === null ? `≥${b.from}` : b.from === b.to ? String(b.from) : `${b.from}–${b.to}`);
  panel(
    container,
    {
      id: `impact-${change.id.slice(0, 8)}`,
      title: `${t("impactOf")} ${report.version} · ${report.period} · ${t("against")} ${report.baseline}`,
      note: impactLine(report),
      option: stackedBars(
        buckets.map(bucketLabel),
        [
          { name: t("rankUp"), data: buckets.map((b) => b.up) },
          { name: t("rankDown"), data: buckets.map((b) => b.down) },
        ],
        t("count"),
      ),
      columns: [
        { label: t("product"), value: (p) => `${p.name}（${p.bank_code}）` },
        { label: t("minPoints"), value: (p) => String(p.min_points), numeric: true },
        { label: t("eligibleBefore"), value: (p) => count(p.eligible_before), numeric: true },
        { label: t("eligibleAfter"), value: (p) => count(p.eligible_after), numeric: true },
        { label: t("gained"), value: (p) => count(p.gained), numeric: true },
        { label: t("lost"), value: (p) => count(p.lost), numeric: true },
        { label: t("limitsAfter"), value: (p) => yuan(p.max_amount_after), numeric: true },
      ],
      rows: report.products,
      source: { path: change.links.impact, params: {}, filename: `impact-${report.version}-${report.period}`, kinds: ["xlsx"] },
    },
    onError,
  );
}

function renderDrift(container, latest, onError) {
  if (latest === null || latest.drift === null) {
    const text = latest === null ? t("noRanking") : `${latest.period}: ${t("noDriftBaseline")}`;
    container.append(element("p", { class: "note", dataset: { noDrift: "" } }, text));
    return;
  }
  const drift = latest.drift;
  const rows = [
    { name: t("pointsCol"), stability: drift.points, missing: null },
    ...(drift.indicators || []).map((i) => ({ name: i.label, stability: i.stability, missing: i })),
  ];
  panel(
    container,
    {
      id: "drift",
      title: `${t("drift")} · ${drift.period} ${t("against")} ${drift.baseline_period}`,
      note: t("driftNote"),
      option: psiBars(rows.map((r) => r.name), rows.map((r) => r.stability.psi), "PSI"),
      wide: true,
      columns: [
        { label: t("quantity"), value: (r) => r.name },
        { label: "PSI", value: (r) => band(r.stability), numeric: true },
        { label: t("pValue"), value: (r) => decimal(r.stability.p_value), numeric: true },
        {
          label: t("missingRate"),
          value: (r) => (r.missing ? `${decimal(r.missing.baseline_missing_rate * 100)} % → ${decimal(r.missing.missing_rate * 100)} %` : "—"),
          numeric: true,
        },
      ],
      rows,
      source: { path: "/v1/scoring/drift", params: { period: drift.period }, filename: `drift-${drift.period}`, kinds: ["xlsx"] },
    },
    onError,
  );
}

/** The section: pending changes, one panel per linked impact report, the latest drift. */
export function renderGovernance(container, data, onError) {
  container.replaceChildren();
  renderPending(container, data.pending, data.impacts);
  for (const impact of data.impacts) renderImpact(container, impact, onError);
  renderDrift(container, data.drift, onError);
}
