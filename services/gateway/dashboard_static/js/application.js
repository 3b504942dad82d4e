// One application, opened from a row of the due tables: its fields and its whole history, as
// GET /v1/loans/applications/{id} and /events answer them (a bank user opens only its own).

import { getAll, getJSON } from "./api.js";
import { count, instant, yuan } from "./format.js";
import { nameOf, t } from "./i18n.js";
import { element, table } from "./panels.js";

const FIELDS = [
  ["bank", (a, names) => nameOf(names.banks, a.bank_code)],
  ["product", (a, names) => nameOf(names.products, a.product_code)],
  ["uscc", (a) => a.uscc],
  ["amount", (a) => yuan(a.amount)],
  ["status", (a) => a.status],
  ["submittedAt", (a) => instant(a.submitted_at)],
  ["dueAt", (a) => instant(a.decision_due_at)],
  ["elapsed", (a) => count(a.working_days_elapsed)],
  ["decisionDays", (a) => count(a.decision_working_days)],
  ["pointsCol", (a) => `${a.points_snapshot} (${a.period_snapshot}, ${a.model_version_snapshot})`],
  ["rank", (a) => `${a.rank_snapshot} / ${a.rank_total_snapshot}`],
];

/** Open the dialog on application `id`. */
export async function showApplication(id, names) {
  const path = `/v1/loans/applications/${encodeURIComponent(id)}`;
  const [application, events] = await Promise.all([getJSON(path), getAll(`${path}/events`)]);
  const facts = element(
    "dl",
    {},
    element("dt", {}, "ID"),
    element("dd", {}, application.id),
    ...FIELDS.flatMap(([key, value]) => [element("dt", {}, t(key)), element("dd", {}, value(application, names))]),
  );
  const history = table(
    [
      { label: t("at"), value: (e) => instant(e.at) },
      { label: t("event"), value: (e) => e.type },
      { label: t("status"), value: (e) => `${e.from_status ?? "—"} → ${e.to_status}` },
      { label: t("actor"), value: (e) => e.actor },
    ],
    events,
    t("history"),
  );
  document.getElementById("application-body").replaceChildren(facts, history);
  const dialog = document.getElementById("application");
  if (!dialog.open) dialog.showModal();
}

/** Close the dialog if it is open. */
export function closeApplication() {
  const dialog = document.getElementById("application");
  if (dialog.open) dialog.close();
}
