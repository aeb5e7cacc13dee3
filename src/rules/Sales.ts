/**
 * `process_sales_transactions`: validation and exact calculations of the
 * sales rules in business-rules.md. `customer_status` depends on every
 * transaction ever loaded, so the warehouse settles it (see SqlWarehouse).
 */
import type { SaleRow } from "../schema/Records.js"
import { refuse, type Refusal } from "../schema/Reject.js"
import { parseTransactionDate } from "./Dates.js"
import * as Money from "./Money.js"
import { trimmed } from "./Text.js"

/** The sales columns as read from the source table or `sales_transactions.csv`. */
export interface RawSale {
  readonly transaction_id: string
  readonly customer_id: string
  readonly product_id: string
  readonly quantity: string
  readonly unit_price: string
  readonly discount_amount: string
  readonly transaction_date: string
  readonly sales_rep_id: string
}

export const SALE_COLUMNS = [
  "transaction_id",
  "customer_id",
  "product_id",
  "quantity",
  "unit_price",
  "discount_amount",
  "transaction_date",
  "sales_rep_id"
] as const satisfies ReadonlyArray<keyof RawSale>

/** The transactions a run processes: inclusive `YYYY-MM-DD` bounds, either may be open. */
export interface DateWindow {
  readonly from: string | null
  readonly to: string | null
}

export const inWindow = (day: string, window: DateWindow): boolean =>
  (window.from === null || day >= window.from) && (window.to === null || day <= window.to)

/** A record skipped on purpose: counted as `filtered`, never a reject. */
export interface Filtered {
  readonly _tag: "Filtered"
  readonly why: "status" | "window"
}
export const filtered = (why: Filtered["why"]): Filtered => ({ _tag: "Filtered", why })

/** `true` for a CSV status that counts as completed (trimmed, case-insensitive). */
export const isCompleted = (status: string): boolean => status.trim().toLowerCase() === "completed"

// ---- calculations, all in integer cents -------------------------------------

export type ValueTier = SaleRow["value_tier"]

/** The tier of a total in cents, as BigInt (the exact path) or as a JS integer (the cents path). */
export const valueTier = (totalCents: bigint | number): ValueTier =>
  totalCents >= 50_000 ? "High Value" : totalCents >= 10_000 ? "Medium Value" : "Low Value"

/** quantity × unit_price − discount, in cents, rounded half away from zero. */
export const totalCents = (quantity: bigint, unitPrice: Money.Decimal, discount: Money.Decimal): bigint =>
  Money.rescale(Money.subtract(Money.multiplyInt(unitPrice, quantity), discount), 2)

/** total × rate, in cents: `commissionCents(49950n, 0.03)` is 1499 (14.99), never 14.98. */
export const commissionCents = (total: bigint, rate: Money.Decimal): bigint =>
  Money.divRound(total * rate.units, 10n ** BigInt(rate.scale))

export const costCents = (quantity: bigint, cost: Money.Decimal): bigint => Money.rescale(Money.multiplyInt(cost, quantity), 2)

/** (total − cost) / total × 100, in hundredths of a percent; null when total is 0. */
export const profitMarginHundredths = (total: bigint, cost: bigint): bigint | null =>
  total === 0n ? null : Money.divRound((total - cost) * 10_000n, total)

// ---- one record ---------------------------------------------------------------

const wholeNumber = (text: string): bigint | undefined => {
  const d = Money.parseDecimal(text)
  return d !== undefined && Money.isInteger(d) ? Money.toInteger(d) : undefined
}

export interface SalePricing {
  readonly window: DateWindow
  /** The product's cost: `null` when the product has none, `undefined` when the product is unknown here. */
  readonly costOf: (productId: string) => ProductCost | null | undefined
  readonly commissionRate: Money.Decimal
}

/**
 * A product's cost as pricing reads it: exact, and in whole cents where it has at most two places
 * (Money.toCents), worked out once per product instead of once per sale (a BigInt conversion, about
 * 0.1-0.2 s of a 1M run).
 */
export interface ProductCost {
  readonly exact: Money.Decimal
  readonly cents: number | undefined
}

export const productCost = (exact: Money.Decimal): ProductCost => ({ exact, cents: Money.toCents(exact) })

/** SalePricing.costOf over the products' costs as the warehouse holds them (a text, or null); a text that is no number is none. */
export const costLookup = (costs: Iterable<readonly [string, string | null]>): SalePricing["costOf"] => {
  const byId = new Map<string, ProductCost | null>()
  for (const [id, text] of costs) {
    const exact = text === null ? undefined : Money.parseDecimal(text)
    byId.set(id, exact === undefined ? null : productCost(exact))
  }
  return (id) => byId.get(id)
}

/** The columns of a fact that hold an amount: the price and discount read, the money computed. */
export type AmountColumn = "unit_price" | "discount_amount" | "total_amount" | "cost_amount" | "profit_margin" | "commission"

/**
 * A fact as the rules price it (priceSale): SaleRow with its amounts as Money.Amount, whole cents
 * where the fast path priced it. writeOutAmounts makes it a SaleRow.
 */
export type PricedSale = Omit<SaleRow, AmountColumn> & {
  readonly unit_price: Money.Amount
  readonly discount_amount: Money.Amount
  readonly total_amount: Money.Amount
  readonly cost_amount: Money.Amount | null
  readonly profit_margin: Money.Amount | null
  readonly commission: Money.Amount
}

/** One completed transaction to its fact row, a refusal, or `filtered` when outside the window. */
export const processSale = (raw: RawSale, pricing: SalePricing): SaleRow | Refusal | Filtered => {
  const result = priceSale(raw, pricing)
  return "_tag" in result ? result : writeOutAmounts(result)
}

/** processSale with the amounts of the fast path left in cents (Money.Amount): what a load binds. */
export const priceSale = (raw: RawSale, pricing: SalePricing): PricedSale | Refusal | Filtered => sale(raw, pricing, true)

/** processSale without the cents fast path (a test holds the fast path to it). */
export const exactSale = (raw: RawSale, pricing: SalePricing): SaleRow | Refusal | Filtered =>
  sale(raw, pricing, false) as SaleRow | Refusal | Filtered

/**
 * The amounts of `row` (a priced sale, or any record holding some of its amount columns) as the
 * decimal texts SaleRow holds, in place: the price and discount in their shortest form (`"19.9"`,
 * `"0"`), the money with two places (`"54.97"`). Texts are left as they are.
 */
export const writeOutAmounts = <A extends object>(row: A): A & { readonly [K in AmountColumn]?: string | null } => {
  const r = row as { -readonly [K in AmountColumn]?: Money.Amount | null }
  if (typeof r.unit_price === "number") r.unit_price = Money.shortCentsText(r.unit_price)
  if (typeof r.discount_amount === "number") r.discount_amount = Money.shortCentsText(r.discount_amount)
  if (typeof r.total_amount === "number") r.total_amount = Money.centsText(r.total_amount)
  if (typeof r.cost_amount === "number") r.cost_amount = Money.centsText(r.cost_amount)
  if (typeof r.profit_margin === "number") r.profit_margin = Money.centsText(r.profit_margin)
  if (typeof r.commission === "number") r.commission = Money.centsText(r.commission)
  return row as A & { readonly [K in AmountColumn]?: string | null }
}

const sale = (raw: RawSale, pricing: SalePricing, fast: boolean): PricedSale | Refusal | Filtered => {
  const transactionId = trimmed(raw.transaction_id)
  if (transactionId === undefined) return refuse("missing_key", "transaction_id is empty")
  const day = parseTransactionDate(raw.transaction_date)
  if (day === undefined) {
    return refuse("validation", `transaction_date '${raw.transaction_date}' is not a date in an accepted format`)
  }
  if (!inWindow(day, pricing.window)) return filtered("window")
  const customerId = trimmed(raw.customer_id)
  if (customerId === undefined) return refuse("validation", "customer_id is empty")
  const productId = trimmed(raw.product_id)
  if (productId === undefined) return refuse("validation", "product_id is empty")
  const row: Priced = {
    transaction_id: transactionId,
    customer_id: customerId,
    product_id: productId,
    quantity: 0,
    unit_price: 0,
    discount_amount: 0,
    total_amount: 0,
    cost_amount: null,
    profit_margin: null,
    commission: 0,
    value_tier: "Low Value",
    transaction_date: day,
    sales_rep_id: trimmed(raw.sales_rep_id) ?? null
  }
  const cost = pricing.costOf(productId)
  if (fast && priceInCents(raw, cost, pricing.commissionRate, row)) return row
  const refused = priceExactly(raw, cost, pricing.commissionRate, row)
  return refused ?? row
}

type Priced = { -readonly [K in keyof PricedSale]: PricedSale[K] }

/**
 * The sale's money in whole cents as JS numbers, when its quantity, price and
 * discount are plain (`"3"`, `"19.99"`) with at most two decimals and every
 * value stays exact (Money.exact). Fills `row` with them, no text made
 * (Money.Amount), and answers `true`; `false` leaves everything, refusals
 * included, to priceExactly.
 */
const priceInCents = (raw: RawSale, cost: ProductCost | null | undefined, rate: Money.Decimal, row: Priced): boolean => {
  const quantity = Money.plainInteger(raw.quantity)
  const price = Money.plainCents(raw.unit_price)
  const discount = raw.discount_amount === "" ? 0 : Money.plainCents(raw.discount_amount)
  if (quantity < 1 || price < 0 || discount < 0) return false
  const gross = quantity * price
  if (!Money.exact(gross) || discount > gross) return false
  const total = gross - discount
  let costAmount: number | null = null
  if (cost !== null && cost !== undefined) {
    const unitCost = cost.cents
    if (unitCost === undefined) return false
    costAmount = quantity * unitCost
    if (!Money.exact(costAmount)) return false
  }
  const marginScaled = costAmount === null ? 0 : (total - costAmount) * 10_000
  const rateUnits = Number(rate.units)
  const commissionScaled = total * rateUnits
  if (!Money.exact(marginScaled) || !Money.exact(commissionScaled) || rate.scale > 15) return false
  row.quantity = quantity
  row.unit_price = price
  row.discount_amount = discount
  row.total_amount = total
  row.cost_amount = costAmount
  row.profit_margin = costAmount === null || total === 0 ? null : Money.divRoundNumber(marginScaled, total)
  row.commission = Money.divRoundNumber(commissionScaled, 10 ** rate.scale)
  row.value_tier = valueTier(total)
  return true
}

/** The sale's money in exact decimals (BigInt) whatever its size: fills `row`, or answers why it is refused. */
const priceExactly = (raw: RawSale, cost: ProductCost | null | undefined, rate: Money.Decimal, row: Priced): Refusal | undefined => {
  const quantity = wholeNumber(raw.quantity)
  if (quantity === undefined || quantity < 1n || quantity > BigInt(Number.MAX_SAFE_INTEGER)) {
    return refuse("validation", `quantity must be an integer ≥ 1, got '${raw.quantity}'`)
  }
  const unitPrice = Money.parseDecimal(raw.unit_price)
  if (unitPrice === undefined || Money.isNegative(unitPrice)) {
    return refuse("validation", `unit_price must be a number ≥ 0, got '${raw.unit_price}'`)
  }
  const discount = raw.discount_amount.trim() === "" ? { units: 0n, scale: 0 } : Money.parseDecimal(raw.discount_amount)
  if (discount === undefined || Money.isNegative(discount)) {
    return refuse("validation", `discount_amount must be a number ≥ 0, got '${raw.discount_amount}'`)
  }
  const gross = Money.multiplyInt(unitPrice, quantity)
  if (Money.compare(discount, gross) > 0) {
    return refuse(
      "validation",
      `discount_amount ${Money.formatDecimal(discount)} is more than quantity × unit_price (${Money.formatDecimal(gross)})`
    )
  }
  const total = totalCents(quantity, unitPrice, discount)
  const costAmount = cost === null || cost === undefined ? null : costCents(quantity, cost.exact)
  const margin = costAmount === null ? null : profitMarginHundredths(total, costAmount)
  row.quantity = Number(quantity)
  row.unit_price = Money.formatDecimal(Money.normalize(unitPrice))
  row.discount_amount = Money.formatDecimal(Money.normalize(discount))
  row.total_amount = Money.formatCents(total)
  row.cost_amount = costAmount === null ? null : Money.formatCents(costAmount)
  row.profit_margin = margin === null ? null : Money.formatCents(margin)
  row.commission = Money.formatCents(commissionCents(total, rate))
  row.value_tier = valueTier(total)
  return undefined
}
