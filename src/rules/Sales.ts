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

export const valueTier = (totalCents: bigint): ValueTier =>
  totalCents >= 50_000n ? "High Value" : totalCents >= 10_000n ? "Medium Value" : "Low Value"

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
  readonly costOf: (productId: string) => Money.Decimal | null | undefined
  readonly commissionRate: Money.Decimal
}

/** One completed transaction to its fact row, a refusal, or `filtered` when outside the window. */
export const processSale = (raw: RawSale, pricing: SalePricing): SaleRow | Refusal | Filtered => {
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
  const cost = pricing.costOf(productId)
  const costAmount = cost === null || cost === undefined ? null : costCents(quantity, cost)
  const margin = costAmount === null ? null : profitMarginHundredths(total, costAmount)
  return {
    transaction_id: transactionId,
    customer_id: customerId,
    product_id: productId,
    quantity: Number(quantity),
    unit_price: Money.formatDecimal(Money.normalize(unitPrice)),
    discount_amount: Money.formatDecimal(Money.normalize(discount)),
    total_amount: Money.formatCents(total),
    cost_amount: costAmount === null ? null : Money.formatCents(costAmount),
    profit_margin: margin === null ? null : Money.formatCents(margin),
    commission: Money.formatCents(commissionCents(total, pricing.commissionRate)),
    value_tier: valueTier(total),
    transaction_date: day,
    sales_rep_id: trimmed(raw.sales_rep_id) ?? null
  }
}
