// The page's words in Chinese (first) and English. Only labels live here: every figure, and the
// names of banks, products, industries and districts, come from the API.

const WORDS = {
  title: ["创新积分贷 · 监测看板", "Innovation-points credit · dashboard"],
  signOut: ["退出登录", "Sign out"],
  periodKind: ["统计区间", "Period"],
  year: ["年度", "Year"],
  half: ["半年", "Half-year"],
  quarter: ["季度", "Quarter"],
  month: ["月度", "Month"],
  custom: ["自定义", "Custom"],
  yearLabel: ["年份", "Year"],
  partLabel: ["期", "Part"],
  from: ["起", "From"],
  to: ["止", "To"],
  overview: ["总览", "Overview"],
  loans: ["贷款", "Loans"],
  due: ["待决策申请", "Applications awaiting a decision"],
  points: ["创新积分", "Innovation points"],
  pointsPeriod: ["积分年度", "Points period"],
  district: ["区域", "District"],
  industry: ["产业", "Industry"],
  category: ["类别", "Category"],
  stage: ["成长阶段", "Growth stage"],
  all: ["全部", "All"],
  close: ["关闭", "Close"],
  table: ["数据表", "Table"],
  applications: ["申请笔数", "Applications"],
  approved: ["获批笔数", "Approved"],
  disbursedCount: ["放款笔数", "Loans disbursed"],
  disbursedAmount: ["放款金额", "Amount disbursed"],
  approvalRate: ["审批通过率", "Approval rate"],
  medianDays: ["决策用时中位数", "Median days to decision"],
  meanDays: ["决策用时均值", "Mean days to decision"],
  onTimeRate: ["按时决策率", "On-time decisions"],
  decisionOverdue: ["超期未决策", "Undecided past deadline"],
  workingDays: ["个工作日", "working days"],
  goal: ["目标 100%（两个工作日内决策）", "Goal 100 % (decision within two working days)"],
  goalShort: ["目标 100%", "Goal 100 %"],
  yi: ["亿元", "×100M yuan"],
  yuan: ["元", "yuan"],
  byBankProduct: ["各银行放款金额（按产品）", "Amount disbursed by bank and product"],
  monthlyTrend: ["月度申请与放款", "Monthly applications and amount disbursed"],
  monthlyOnTime: ["月度按时决策率", "Monthly on-time rate"],
  byDistrict: ["分区域放款", "By district"],
  byIndustry: ["分产业放款", "By industry"],
  byStage: ["分成长阶段放款", "By growth stage"],
  onTimeByBank: ["各银行按时决策率", "On-time rate by bank"],
  dueToday: ["今日到期", "Due today"],
  dueTomorrow: ["明日到期", "Due tomorrow"],
  overdue: ["已超期", "Overdue"],
  distribution: ["积分分布", "Points distribution"],
  top100: ["积分前100名", "Top 100"],
  bank: ["银行", "Bank"],
  product: ["产品", "Product"],
  monthCol: ["月份", "Month"],
  enterprise: ["企业", "Enterprise"],
  uscc: ["统一社会信用代码", "USCC"],
  amount: ["金额（元）", "Amount (yuan)"],
  submittedAt: ["提交时间", "Submitted"],
  dueAt: ["决策期限", "Decision due"],
  elapsed: ["已用工作日", "Working days elapsed"],
  decisionDays: ["决策用时（工作日）", "Working days to decision"],
  application: ["贷款申请", "Loan application"],
  firstN: ["前{n}条", "first {n}"],
  previous: ["上期积分 / 全市排名", "Previous points / overall rank"],
  overallRank: ["全市排名", "Overall rank"],
  fullRanking: ["下载为完整排名（含筛选）", "Downloads hold the whole (filtered) ranking"],
  rank: ["排名", "Rank"],
  pointsCol: ["积分", "Points"],
  change: ["全市排名变化", "Overall rank change"],
  waiver: ["泰信保费用减免", "泰信保 fee waived"],
  waived: ["免收", "waived"],
  notWaived: ["—", "—"],
  newEntry: ["新进", "new"],
  bin: ["积分区间", "Points range"],
  count: ["企业数", "Enterprises"],
  quantiles: ["分位数", "Quantiles"],
  mean: ["均值", "Mean"],
  none: ["暂无数据", "Nothing to show"],
  noRanking: ["该年度尚未计算积分", "No ranking has been computed for this period"],
  status: ["状态", "Status"],
  history: ["历史", "History"],
  at: ["时间", "At"],
  event: ["事件", "Event"],
  actor: ["操作方", "By"],
  bureau: ["市科技局", "Science & technology bureau"],
  governance: ["规则治理", "Model governance"],
  pendingChanges: ["待审批的规则变更", "Rule changes awaiting a second operator"],
  pendingNote: ["规则变更须另一名管理员审批后生效（四眼原则）", "A rule change takes effect only when another operator approves it (four eyes)"],
  madeAt: ["提出时间", "Proposed"],
  changeKind: ["变更类型", "Kind"],
  summary: ["内容", "What"],
  maker: ["提出方", "Proposed by"],
  impact: ["影响", "Impact"],
  impactLine: [
    "{moved}/{total} 家企业排名变动 · 前100名 进入 {entering}、退出 {leaving}（影响 {year} 年泰信保减免）· PSI {psi}",
    "{moved} of {total} firms change rank · top 100: {entering} in, {leaving} out (the {year} 泰信保 waiver) · PSI {psi}",
  ],
  "kind_model-publish": ["发布积分模型", "Publish a points model"],
  "kind_points-recompute": ["重新计算积分", "Recompute a period"],
  "kind_calendar-load": ["载入工作日历", "Load a calendar year"],
  kind_bank: ["银行", "Bank"],
  kind_product: ["信贷产品", "Credit product"],
  "kind_fee-rate": ["泰信保费率", "泰信保 fee rate"],
  "kind_admin-client": ["新增管理员", "A new operator client"],
  impactOf: ["模型影响", "Impact of"],
  against: ["对比", "against"],
  rankUp: ["排名上升", "Up"],
  rankDown: ["排名下降", "Down"],
  minPoints: ["最低积分", "Minimum points"],
  eligibleBefore: ["可贷企业（前）", "Eligible before"],
  eligibleAfter: ["可贷企业（后）", "Eligible after"],
  gained: ["新增", "Gained"],
  lost: ["失去", "Lost"],
  limitsAfter: ["额度合计（后，元）", "Limits after (yuan)"],
  drift: ["积分与指标漂移", "Drift of points and indicators"],
  driftNote: [
    "PSI < 0.10 稳定，0.10–0.25 需关注，≥ 0.25 显著变化；分箱为基期十分位",
    "PSI < 0.10 stable, 0.10–0.25 investigate, ≥ 0.25 significant; bins are the baseline's deciles",
  ],
  noDriftBaseline: ["上一年度尚无排名，无法计算漂移", "the year before has no ranking to compare with"],
  quantity: ["指标", "Quantity"],
  pValue: ["卡方 p 值", "Chi-square p"],
  missingRate: ["缺失率（基期 → 本期）", "Missing (baseline → now)"],
  band_stable: ["稳定", "stable"],
  band_investigate: ["需关注", "investigate"],
  band_significant: ["显著", "significant"],
};

let lang = "zh";

export function setLanguage(code) {
  lang = code === "en" ? "en" : "zh";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

export function language() {
  return lang;
}

/** The label `key` in the page's language, `{name}` replaced from `values`. */
export function t(key, values = {}) {
  const pair = WORDS[key];
  if (!pair) throw new Error(`no label ${key}`);
  return pair[lang === "zh" ? 0 : 1].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

/** A vocabulary code's name in the page's language (the gateway's `/dashboard/vocabulary.json`
 * gives `{zh: {code: name}, en: {code: name}}`), else the code. */
export function label(vocabulary, code) {
  return vocabulary?.[lang]?.[code] ?? code;
}

/** A bank's, product's or industry's name as the API lists it (`byCode`), else its code. */
export function nameOf(byCode, code) {
  return byCode[code]?.name ?? code;
}
