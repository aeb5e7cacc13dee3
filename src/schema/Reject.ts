import * as Schema from "effect/Schema"
import { Source } from "./Records.js"

/**
 * Why a record was not loaded. Data-quality categories come from the rules;
 * `referential` is retried by every later run; the rest classify load errors.
 */
export const RejectCategory = Schema.Literal(
  "missing_key",
  "malformed",
  "validation",
  "referential",
  "constraint",
  "transient",
  "unknown"
)
export type RejectCategory = typeof RejectCategory.Type

/** What a rule says about a record it refuses: the category and a sentence for a human. */
export interface Refusal {
  readonly _tag: "Refusal"
  readonly category: RejectCategory
  readonly reason: string
}

export const refuse = (category: RejectCategory, reason: string): Refusal => ({ _tag: "Refusal", category, reason })

export const isRefusal = (u: unknown): u is Refusal =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Refusal"

/** A rejected record on its way to the dead-letter store (`etl_rejects` and the failed-records CSV). */
export class Reject extends Schema.Class<Reject>("Reject")({
  source: Source,
  record_key: Schema.NullOr(Schema.String),
  category: RejectCategory,
  reason: Schema.String,
  /** Where it was read: `customers.csv line 17`, `products.json products[4]`. */
  location: Schema.NullOr(Schema.String),
  /** The raw record as read, every field by its source name. */
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}
