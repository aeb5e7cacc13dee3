import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const CUSTOMER_HEADER = "customer_id,first_name,last_name,email,phone,address,segment,registration_date"
export const SALES_HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,discount_amount,transaction_date,sales_rep_id,status"

/** A fresh folder with the given input files; returns the settings that point a run at it. */
export const inputs = (files: { customers?: string; products?: string; sales?: string }) => {
  const dir = mkdtempSync(join(tmpdir(), "etl-test-"))
  mkdirSync(join(dir, "input"))
  if (files.customers !== undefined) writeFileSync(join(dir, "input", "customers.csv"), files.customers)
  if (files.products !== undefined) writeFileSync(join(dir, "input", "products.json"), files.products)
  if (files.sales !== undefined) writeFileSync(join(dir, "input", "sales_transactions.csv"), files.sales)
  return {
    dir,
    settings: {
      INPUT_DIR: join(dir, "input"),
      OUTPUT_DIR: join(dir, "output"),
      LOG_DIR: join(dir, "logs"),
      ALERTS_DIR: join(dir, "alerts"),
      RETRY_BASE_DELAY_MS: "1"
    } as Record<string, string>
  }
}

/** Rewrites one input file of a fixture folder. */
export const rewrite = (dir: string, file: string, content: string) => writeFileSync(join(dir, "input", file), content)

export const products = (items: ReadonlyArray<Record<string, unknown>>) => JSON.stringify({ products: items })

export const product = (id: string, price: number | string, cost?: number) => ({
  product_id: id, name: `Product ${id}`, category: "Tech",
  specifications: { brand: "B", price, ...(cost === undefined ? {} : { cost }) },
  inventory: { quantity: 20, warehouse: "WH" }
})

/** Every fact's loaded values (not the run or time that loaded it), by key: what two loads of the same input agree on. */
export const loadedFacts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`SELECT transaction_id, customer_id, product_id, quantity, unit_price, discount_amount, total_amount,
        cost_amount, profit_margin, commission, value_tier, transaction_date, sales_rep_id, customer_status
      FROM sales_fact ORDER BY transaction_id`)
