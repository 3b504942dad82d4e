// How figures are written on the page. Amounts arrive as exact decimal strings ("4112000000.00");
// they are shown in 亿元 rounded half-up to two decimals, computed on integers (never a float),
// with the exact yuan kept for the hover title and the tables.

const CENTS_PER_YI = 10n ** 10n; // 1 亿元 = 100,000,000 yuan = 10^10 fen

function cents(amount) {
  const [whole, frac = ""] = String(amount).split(".");
  const negative = whole.startsWith("-");
  const value = BigInt(whole.replace("-", "") + (frac + "00").slice(0, 2));
  return negative ? -value : value;
}

/** "4112000000.00" → "41.12" (亿元, half-up). */
export function yi(amount) {
  const value = cents(amount);
  const hundredths = (value * 100n * 2n + CENTS_PER_YI) / (2n * CENTS_PER_YI);
  const text = hundredths.toString().padStart(3, "0");
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

/** "4112000000.00" → "4,112,000,000.00" (exact). */
export function yuan(amount) {
  const [whole, frac = "00"] = String(amount).split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${frac.padEnd(2, "0")}`;
}

/** An amount as a number of 亿元 for a chart's bar or line (its height only: labels and tables
 * show the exact figures). */
export function yiNumber(amount) {
  return Number(amount) / 1e8;
}

/** A number from the API as the page writes it: at most two decimals; null → "—". */
export function decimal(value) {
  if (value === null || value === undefined) return "—";
  return String(Math.round(Number(value) * 100) / 100);
}

/** 0.8932 → "89.32 %"; null → "—". */
export function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return `${(Number(rate) * 100).toFixed(2)} %`;
}

/** A count with thousands separators. */
export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}

/** Working days, at most two decimals. */
export const days = decimal;

/** An instant in Asia/Shanghai, "2026-03-09 10:00". */
export function instant(iso) {
  if (!iso) return "—";
  const parts = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
  return parts;
}
