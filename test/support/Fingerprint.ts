/**
 * What a user compares between two SQLite warehouses: counts, money sums,
 * statuses, the open rejects and the high-water mark.
 */
import Database from "better-sqlite3"

const QUERIES = {
  customers: "SELECT count(*) n, group_concat(segment) s FROM (SELECT segment FROM customer_dim ORDER BY customer_id)",
  products: "SELECT count(*) n, sum(price) p FROM product_dim",
  facts: "SELECT count(*) n, sum(total_amount) t, sum(commission) c, sum(coalesce(cost_amount, 0)) k FROM sales_fact",
  statuses: "SELECT customer_status, count(*) n FROM sales_fact GROUP BY 1 ORDER BY 1",
  firsts: "SELECT customer_id, transaction_id FROM sales_fact WHERE customer_status = 'First-time' ORDER BY 1",
  rejects: "SELECT source, reject_key, category, reason FROM etl_rejects WHERE resolved_run IS NULL ORDER BY 1, 2",
  mark: "SELECT value FROM etl_state WHERE key = 'high_water_mark'",
  staged: "SELECT (SELECT count(*) FROM etl_stage_sales) + (SELECT count(*) FROM etl_stage_customers) + (SELECT count(*) FROM etl_stage_products) n"
}

export type Part = keyof typeof QUERIES

/** The fingerprint of the warehouse at `path`, all parts or the ones named. */
export const fingerprint = (path: string, parts: ReadonlyArray<Part> = Object.keys(QUERIES) as Array<Part>) => {
  const db = new Database(path, { readonly: true })
  const out: Partial<Record<Part, Array<unknown>>> = {}
  for (const part of parts) out[part] = db.prepare(QUERIES[part]).all()
  db.close()
  return out
}
