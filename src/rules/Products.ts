/**
 * `enrich_product_data`: the product rules of business-rules.md. A product
 * arrives as one element of the `products` array, nested as the origin shows.
 */
import type { ProductRow } from "../schema/Records.js"
import { refuse, type Refusal } from "../schema/Reject.js"
import { formatFlags } from "./Flags.js"
import * as Money from "./Money.js"

const CATEGORY_ALIASES: Readonly<Record<string, "Electronics" | "Apparel" | "Books">> = {
  electronics: "Electronics",
  tech: "Electronics",
  technology: "Electronics",
  clothing: "Apparel",
  apparel: "Apparel",
  fashion: "Apparel",
  books: "Books",
  literature: "Books",
  reading: "Books"
}

/** The standard taxonomy; `undefined` when the category maps to nothing (stored as `Other`). */
export const standardCategory = (raw: string): "Electronics" | "Apparel" | "Books" | undefined =>
  CATEGORY_ALIASES[raw.trim().toLowerCase()]

const TWO_HUNDRED: Money.Decimal = { units: 200n, scale: 0 }
const FIFTY: Money.Decimal = { units: 50n, scale: 0 }

export const priceCategory = (price: Money.Decimal): ProductRow["price_category"] =>
  Money.compare(price, TWO_HUNDRED) >= 0 ? "Premium" : Money.compare(price, FIFTY) >= 0 ? "Mid-Range" : "Budget"

export const inventoryStatus = (quantity: number | null): ProductRow["inventory_status"] => {
  if (quantity === null) return "Unknown"
  if (quantity > 100) return "Well Stocked"
  if (quantity >= 50) return "Moderate Stock"
  if (quantity >= 10) return "Low Stock"
  return "Critical Stock"
}

const isObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A JSON scalar as trimmed text; `null` when absent, empty or not a scalar. */
export const jsonText = (u: unknown): string | null => {
  if (typeof u === "string") {
    const t = u.trim()
    return t.length === 0 ? null : t
  }
  if (typeof u === "number" && Number.isFinite(u)) return String(u)
  if (typeof u === "boolean") return String(u)
  return null
}

const describe = (u: unknown): string => (typeof u === "string" ? `'${u}'` : JSON.stringify(u) ?? String(u))

/** `quantity`: an integer ≥ 0, or null when missing; anything else refuses the record. */
export const productQuantity = (u: unknown): number | null | Refusal => {
  if (u === undefined || u === null || (typeof u === "string" && u.trim() === "")) return null
  const d = Money.decimalFromJson(u)
  if (d === undefined || !Money.isInteger(d) || Money.isNegative(d)) {
    return refuse("validation", `inventory.quantity must be an integer ≥ 0, got ${describe(u)}`)
  }
  const n = Money.toInteger(d)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return refuse("validation", `inventory.quantity is too large: ${describe(u)}`)
  return Number(n)
}

const firstPresent = (...values: ReadonlyArray<unknown>): unknown => values.find((v) => v !== undefined && v !== null)

/** One element of `products` to its warehouse row, or the reason it cannot be loaded. */
export const enrichProduct = (raw: unknown): ProductRow | Refusal => {
  if (!isObject(raw)) return refuse("malformed", `a product must be a JSON object, got ${describe(raw)}`)
  const id = raw.product_id
  const productId = typeof id === "string" || typeof id === "number" ? jsonText(id) : null
  if (productId === null) {
    return id === undefined || id === null || typeof id === "string"
      ? refuse("missing_key", "product_id is missing or empty")
      : refuse("validation", `product_id must be a string, got ${describe(id)}`)
  }
  const specs = isObject(raw.specifications) ? raw.specifications : {}
  const inventory = isObject(raw.inventory) ? raw.inventory : {}
  const flags: Array<string> = []

  const price = Money.decimalFromJson(specs.price)
  if (price === undefined || Money.isNegative(price)) {
    return refuse("validation", `specifications.price must be a number ≥ 0, got ${describe(specs.price)}`)
  }
  const quantity = productQuantity(inventory.quantity)
  if (typeof quantity === "object" && quantity !== null) return quantity

  const rawCost = firstPresent(specs.cost, inventory.cost, raw.cost)
  let cost: Money.Decimal | null = null
  if (rawCost !== undefined) {
    const parsed = Money.decimalFromJson(rawCost)
    if (parsed === undefined || Money.isNegative(parsed)) flags.push("invalid_cost")
    else cost = parsed
  }

  const rawCategory = jsonText(raw.category)
  const category = rawCategory === null ? undefined : standardCategory(rawCategory)
  if (category === undefined) flags.push("unmapped_category")

  return {
    product_id: productId,
    name: jsonText(raw.name),
    category: category ?? "Other",
    raw_category: rawCategory,
    brand: jsonText(specs.brand),
    model: jsonText(specs.model),
    price: Money.formatDecimal(Money.normalize(price)),
    cost: cost === null ? null : Money.formatDecimal(Money.normalize(cost)),
    price_category: priceCategory(price),
    quantity,
    warehouse: jsonText(inventory.warehouse),
    inventory_status: inventoryStatus(quantity),
    quality_flags: formatFlags(flags)
  }
}
