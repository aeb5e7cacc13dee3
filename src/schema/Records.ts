/**
 * The clean records the warehouse stores, one schema per table. Column names
 * are the warehouse's (contract.md); `quality_flags` is comma-separated,
 * sorted, no spaces, or null.
 */
import * as Schema from "effect/Schema"

const Text = Schema.NullOr(Schema.String)
/** Money and other exact decimals travel as their decimal text, never a float. */
const DecimalText = Schema.String.pipe(Schema.pattern(/^-?\d+(\.\d+)?$/))
const Day = Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}$/))

export const CustomerRow = Schema.Struct({
  customer_id: Schema.String,
  first_name: Text,
  last_name: Text,
  name: Text,
  email: Text,
  email_valid: Schema.Literal(0, 1),
  phone: Text,
  address: Text,
  base_segment: Text,
  segment: Schema.String,
  registration_date: Schema.NullOr(Day),
  quality_flags: Text
})
export type CustomerRow = typeof CustomerRow.Type

export const ProductRow = Schema.Struct({
  product_id: Schema.String,
  name: Text,
  category: Schema.String,
  raw_category: Text,
  brand: Text,
  model: Text,
  price: DecimalText,
  cost: Schema.NullOr(DecimalText),
  price_category: Schema.Literal("Premium", "Mid-Range", "Budget"),
  quantity: Schema.NullOr(Schema.Int),
  warehouse: Text,
  inventory_status: Schema.Literal("Well Stocked", "Moderate Stock", "Low Stock", "Critical Stock", "Unknown"),
  quality_flags: Text
})
export type ProductRow = typeof ProductRow.Type

/** A validated, priced sale; `customer_status` is settled by the warehouse across all runs. */
export const SaleRow = Schema.Struct({
  transaction_id: Schema.String,
  customer_id: Schema.String,
  product_id: Schema.String,
  quantity: Schema.Int,
  unit_price: DecimalText,
  discount_amount: DecimalText,
  total_amount: DecimalText,
  cost_amount: Schema.NullOr(DecimalText),
  profit_margin: Schema.NullOr(DecimalText),
  commission: DecimalText,
  value_tier: Schema.Literal("High Value", "Medium Value", "Low Value"),
  transaction_date: Day,
  sales_rep_id: Text
})
export type SaleRow = typeof SaleRow.Type

export const Source = Schema.Literal("customers", "products", "sales")
export type Source = typeof Source.Type

/**
 * The filtered reason of a record that a later copy of its key replaced in the same run (the last
 * copy wins): neither loaded nor rejected.
 */
export const DUPLICATE = "duplicate"
