// One application, opened from a row of the due tables: its fields and its history, as
// GET /v1/loans/applications/{id} and /events answer them (a bank user opens only its own).

import { getJSON } from "./api.js";
import { instant, yuan } from "./format.js";
import { t } from "./i18n.js";
import { element, table } from "./panels.js";

const FIELDS = [
  ["id", (a) => a.id],
  ["bank", (a, names) => names.banks[a.bank_code]?.name ?? a.bank_code],
  ["product", (a, names) => names.products[a.product_code]?.name ?? a.product_code],
  ["uscc", (a) => a.uscc],
  ["amount", (a) => yuan(a.amount)],
  ["status", (a) => a.status],
  ["submittedAt", (a) => instant(a.submitted_at)],
  ["dueAt", (a) => instant(a.decision_due_at)],
  ["elapsed", (a) => (a.working_days_elapsed ?? a.decision_working_days ?? "—").toString()],
  ["pointsCol", (a) => `${a.points_snapshot} (${a.period_snapshot}, ${a.model_version_snapshot})`],
  ["rank", (a) => `${a.rank_snapshot} / ${a.rank_total_snapshot}`],
];

/** Open the dialog on application `id`. */
export async function showApplication(id, names) {
  const [application, events] = await Promise.all([
    getJSON(`/v1/loans/applications/${encodeURIComponent(id)}`),
    getJSON(`/v1/loans/applications/${encodeURIComponent(id)}/events`, { limit: 100 }),
  ]);
  const facts = element(
    "dl",
    {},
    ...FIELDS.flatMap(([key, value]) => [
      element("dt", {}, key === "id" ? "ID" : t(key)),
      element("dd", {}, value(application, names)),
    ]),
  );
  const history = table(
    [
      { label: t("at"), value: (e) => instant(e.at) },
      { label: t("event"), value: (e) => e.type },
      { label: t("status"), value: (e) => `${e.from_status ?? "—"} → ${e.to_status}` },
      { label: t("actor"), value: (e) => e.actor },
    ],
    events.items,
    t("history"),
  );
  document.getElementById("application-body").replaceChildren(facts, history);
  const dialog = document.getElementById("application");
  if (!dialog.open) dialog.showModal();
}
