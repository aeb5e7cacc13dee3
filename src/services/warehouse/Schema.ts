/**
 * The warehouse schema as migrations, written once for every dialect: money
 * the dialect's exact decimal where it has one (SQLite stores REAL from the
 * exact decimal text), dates as DATE (TEXT `YYYY-MM-DD` in SQLite).
 */
import * as Money from "../../rules/Money.js"
import type { PricedSale, ValueTier } from "../../rules/Sales.js"
import { SaleRow } from "../../schema/Records.js"
import { writeOutSales, type StagedSale } from "../Warehouse.js"
import type { Dialect } from "./Dialect.js"
import { mssqlPartitions, mssqlWarehouse } from "./MssqlSchema.js"

export const CUSTOMER_COLUMNS = [
  "customer_id", "first_name", "last_name", "name", "email", "email_valid", "phone", "address",
  "base_segment", "segment", "registration_date", "quality_flags"
] as const

export const PRODUCT_COLUMNS = [
  "product_id", "name", "category", "raw_category", "brand", "model", "price", "cost", "price_category",
  "quantity", "warehouse", "inventory_status", "quality_flags"
] as const

export const SALE_COLUMNS = [
  "transaction_id", "customer_id", "product_id", "quantity", "unit_price", "discount_amount", "total_amount",
  "cost_amount", "profit_margin", "commission", "value_tier", "transaction_date", "sales_rep_id"
] as const

/** The columns of a fact besides its key: what a later copy of the key replaces. */
export const SALE_DATA = SALE_COLUMNS.filter((c) => c !== "transaction_id")

/** The tail of an upsert into a fact table (sales_fact, or a side file's): a later copy of a key replaces its values. */
export const FACT_REPLACE = `ON CONFLICT (transaction_id) DO UPDATE SET ${SALE_DATA.map((c) => `${c} = excluded.${c}`).join(", ")}`

/** `rows` rows of `columns` parameters each: `(?,?),(?,?)`. */
export const placeholders = (columns: number, rows: number): string => {
  const row = `(${Array.from({ length: columns }, () => "?").join(",")})`
  return Array.from({ length: rows }, () => row).join(",")
}

/** How a dialect binds an amount (Money.Amount): a decimal's text, or whole cents with the text they stand for. */
export interface AmountParams {
  readonly decimalParam: (text: string) => string | number
  readonly centsParam: (cents: number, text: (cents: number) => string) => string | number
}

/**
 * Writes a fact's values into `params` from index `at`, in SALE_COLUMNS order, amounts bound as the
 * dialect binds them (AmountParams), and returns the index after them: a direct load does this for
 * every fact into an array sized for its statement (named reads cost a fraction of a loop of keyed
 * ones, 0.9 s at 1M; writes into a sized array leave a third of the garbage that pushes growing it
 * did).
 */
export const writeSaleValues = (params: Array<unknown>, at: number, r: PricedSale, d: AmountParams): number => {
  params[at] = r.transaction_id
  params[at + 1] = r.customer_id
  params[at + 2] = r.product_id
  params[at + 3] = r.quantity
  params[at + 4] = amountParam(r.unit_price, Money.shortCentsText, d)
  params[at + 5] = amountParam(r.discount_amount, Money.shortCentsText, d)
  params[at + 6] = amountParam(r.total_amount, Money.centsText, d)
  params[at + 7] = r.cost_amount === null ? null : amountParam(r.cost_amount, Money.centsText, d)
  params[at + 8] = r.profit_margin === null ? null : amountParam(r.profit_margin, Money.centsText, d)
  params[at + 9] = amountParam(r.commission, Money.centsText, d)
  params[at + 10] = r.value_tier
  params[at + 11] = r.transaction_date
  params[at + 12] = r.sales_rep_id
  return at + 13
}

const amountParam = (amount: Money.Amount, text: (cents: number) => string, d: AmountParams) =>
  typeof amount === "number" ? d.centsParam(amount, text) : d.decimalParam(amount)

/** The tiers by the code writeSaleCents binds for them: the fact schema's own list, so none is left without one. */
const TIERS: ReadonlyArray<ValueTier> = SaleRow.fields.value_tier.literals

/** A fact whose amounts are all whole cents (Money.Amount as a number, or none): what writeSaleCents takes. */
export const inCents = (r: PricedSale): boolean =>
  typeof r.unit_price === "number" && typeof r.discount_amount === "number" && typeof r.total_amount === "number" &&
  typeof r.commission === "number" && typeof r.cost_amount !== "string" && typeof r.profit_margin !== "string"

/** Amounts bound as they are: a fact inCents holds whole cents (or none). */
const AS_CENTS: AmountParams = { centsParam: (cents) => cents, decimalParam: (text) => text }
const TIER_AT = SALE_COLUMNS.indexOf("value_tier")

/** writeSaleValues for a fact inCents, into a statement that selects SALE_CENTS_SELECT: its cents, and its tier's code. */
export const writeSaleCents = (params: Array<unknown>, at: number, r: PricedSale): number => {
  const end = writeSaleValues(params, at, r, AS_CENTS)
  params[at + TIER_AT] = TIERS.indexOf(r.value_tier)
  return end
}

// 500 rows of at most 17 columns: far below SQLite's 32766 and PostgreSQL's 65535 parameters.
const ROWS_PER_STATEMENT = 500

/**
 * `rows` cut into statements of fixed sizes: full ones of ROWS_PER_STATEMENT, then the rest in
 * powers of two. What is left of a batch differs from batch to batch (the rejects, the rows set
 * aside); one statement text per remainder made SQLite compile a new statement for almost every
 * batch (1-2 ms each) and keep each one in the client's statement cache (a 100-row insert of 15
 * columns holds about 140 KB there): at 1M transactions about 150 texts, now 40. Ten sizes at most.
 */
export const statementSlices = <A>(rows: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  let at = 0
  for (; rows.length - at >= ROWS_PER_STATEMENT; at += ROWS_PER_STATEMENT) out.push(rows.slice(at, at + ROWS_PER_STATEMENT))
  for (let p = 256; p >= 1; p /= 2) {
    if (rows.length - at >= p) {
      out.push(rows.slice(at, at + p))
      at += p
    }
  }
  return out
}

/** The columns of decimal and money type, bound through Dialect.decimalParam. */
export const DECIMAL_COLUMNS: ReadonlySet<string> = new Set([
  "price", "cost", "unit_price", "discount_amount", "total_amount", "cost_amount", "profit_margin", "commission"
])

/**
 * A fact's values, in SALE_COLUMNS order, as a SQLite statement selects them from the rows of its
 * VALUES (`column1`, `column2`, …) when it takes their amounts as whole cents and their tier as a
 * code (writeSaleCents). SQLite divides the cents there into the double centsToDouble makes in JS:
 * both divide the same two exactly represented numbers, correctly rounded. 1M facts of 500-row
 * statements: the statements alone, 0.64-0.96 s against 0.72-1.05 s with doubles bound (a double
 * made for each amount), and 0.98-1.21 s against 1.08-1.35 s with the tier's text. Selected from
 * the VALUES rather than written into each of them: a 500-row statement with the division in every
 * row took SQLite 57-87 ms to compile, against 0.5 ms.
 */
export const SALE_CENTS_SELECT: string = SALE_COLUMNS.map((c, i) =>
  DECIMAL_COLUMNS.has(c) ? `column${i + 1} / 100.0`
  : c === "value_tier" ? `CASE column${i + 1} ${TIERS.map((t, code) => `WHEN ${code} THEN '${t}'`).join(" ")} END`
  : `column${i + 1}`).join(", ")

/** Where each source stages and lands: what every dialect's staging and merges are written against. */
export const TABLES = {
  customers: { stage: "etl_stage_customers", target: "customer_dim", staged: CUSTOMER_COLUMNS, columns: CUSTOMER_COLUMNS, key: "customer_id" },
  products: { stage: "etl_stage_products", target: "product_dim", staged: PRODUCT_COLUMNS, columns: PRODUCT_COLUMNS, key: "product_id" },
  sales: { stage: "etl_stage_sales", target: "sales_fact", staged: [...SALE_COLUMNS, "location"], columns: SALE_COLUMNS, key: "transaction_id" }
} as const

/**
 * The port's three staging operations from one dialect's `stage(operation, table, columns)`. Staged
 * sales have their locations and amounts written out first (writeOutSales), whatever the dialect.
 */
export const stagingFrom = <R>(stage: (operation: string, table: string, columns: ReadonlyArray<string>) => (runId: string, rows: ReadonlyArray<object>) => R) => {
  const stageSales = stage("stage sales", TABLES.sales.stage, TABLES.sales.staged)
  return {
    stageCustomers: stage("stage customers", TABLES.customers.stage, TABLES.customers.staged),
    stageProducts: stage("stage products", TABLES.products.stage, TABLES.products.staged),
    stageSales: (runId: string, rows: ReadonlyArray<StagedSale>) => stageSales(runId, writeOutSales(rows))
  }
}

/** The port's two dimension merges from one dialect's `merge(source, table, stageTable, columns, key)`. */
export const dimensionMergesFrom = <F>(
  merge: (source: string, table: string, stageTable: string, columns: ReadonlyArray<string>, key: string) => F
) => ({
  mergeCustomers: merge("customers", TABLES.customers.target, TABLES.customers.stage, TABLES.customers.columns, TABLES.customers.key),
  mergeProducts: merge("products", TABLES.products.target, TABLES.products.stage, TABLES.products.columns, TABLES.products.key)
})

export const columns = (d: Dialect) => {
  const t = d.types
  return {
    customer: `
      customer_id ${t.text} NOT NULL,
      first_name ${t.text},
      last_name ${t.text},
      name ${t.text},
      email ${t.text},
      email_valid ${t.boolean} NOT NULL,
      phone ${t.text},
      address ${t.text},
      base_segment ${t.text},
      segment ${t.text} NOT NULL,
      registration_date ${t.date},
      quality_flags ${t.text}`,
    product: `
      product_id ${t.text} NOT NULL,
      name ${t.text},
      category ${t.text} NOT NULL,
      raw_category ${t.text},
      brand ${t.text},
      model ${t.text},
      price ${t.decimal} NOT NULL CHECK (price >= 0),
      cost ${t.decimal} CHECK (cost >= 0),
      price_category ${t.text} NOT NULL,
      quantity ${t.integer} CHECK (quantity >= 0),
      warehouse ${t.text},
      inventory_status ${t.text} NOT NULL,
      quality_flags ${t.text}`,
    sale: `
      transaction_id ${t.text} NOT NULL,
      customer_id ${t.text} NOT NULL,
      product_id ${t.text} NOT NULL,
      quantity ${t.integer} NOT NULL CHECK (quantity >= 1),
      unit_price ${t.decimal} NOT NULL CHECK (unit_price >= 0),
      discount_amount ${t.decimal} NOT NULL CHECK (discount_amount >= 0),
      total_amount ${t.money} NOT NULL,
      cost_amount ${t.money},
      profit_margin ${t.money},
      commission ${t.money} NOT NULL,
      value_tier ${t.text} NOT NULL,
      transaction_date ${t.date} NOT NULL,
      sales_rep_id ${t.text}`
  }
}

/** Migration 1: the star schema, the dead-letter store, run history, lineage, state and staging. */
export const schemaV1 = (d: Dialect): ReadonlyArray<string> => {
  const c = columns(d)
  const t = d.types
  return [
    `CREATE TABLE customer_dim (${c.customer},
      created_date ${t.timestamp} NOT NULL,
      updated_date ${t.timestamp},
      PRIMARY KEY (customer_id))`,
    `CREATE TABLE product_dim (${c.product},
      created_date ${t.timestamp} NOT NULL,
      updated_date ${t.timestamp},
      PRIMARY KEY (product_id))`,
    `CREATE TABLE sales_fact (${c.sale},
      customer_status ${t.text},
      run_id ${t.text} NOT NULL,
      created_date ${t.timestamp} NOT NULL,
      updated_date ${t.timestamp},
      PRIMARY KEY (transaction_id),
      FOREIGN KEY (customer_id) REFERENCES customer_dim (customer_id),
      FOREIGN KEY (product_id) REFERENCES product_dim (product_id))`,
    // customer_status is settled per customer in (transaction_date, transaction_id) order.
    `CREATE INDEX sales_fact_customer_order ON sales_fact (customer_id, transaction_date, transaction_id${d.binaryCollation})`,
    `CREATE INDEX sales_fact_product ON sales_fact (product_id)`,
    `CREATE INDEX sales_fact_date ON sales_fact (transaction_date)`,
    `CREATE TABLE etl_rejects (
      reject_id ${t.serial},
      source ${t.text} NOT NULL,
      record_key ${t.text},
      reject_key ${t.text} NOT NULL,
      category ${t.text} NOT NULL,
      reason ${t.text} NOT NULL,
      location ${t.text},
      payload ${t.text} NOT NULL,
      attempts ${t.integer} NOT NULL,
      first_seen_run ${t.text} NOT NULL,
      last_seen_run ${t.text} NOT NULL,
      resolved_run ${t.text},
      UNIQUE (source, reject_key))`,
    `CREATE INDEX etl_rejects_open ON etl_rejects (source, category) WHERE resolved_run IS NULL`,
    `CREATE INDEX etl_rejects_last_seen ON etl_rejects (last_seen_run)`,
    `CREATE TABLE etl_run_history (
      run_id ${t.text} PRIMARY KEY,
      env ${t.text} NOT NULL,
      mode ${t.text} NOT NULL,
      started_at ${t.timestamp} NOT NULL,
      finished_at ${t.timestamp},
      status ${t.text} NOT NULL,
      window_from ${t.date},
      window_to ${t.date},
      records_read ${t.integer},
      records_loaded ${t.integer},
      records_rejected ${t.integer},
      records_filtered ${t.integer},
      error_rate ${t.decimal},
      duration_seconds ${t.decimal},
      summary ${t.text})`,
    `CREATE INDEX etl_run_history_status ON etl_run_history (status, started_at)`,
    `CREATE TABLE etl_lineage (
      lineage_id ${t.serial},
      run_id ${t.text} NOT NULL,
      source ${t.text} NOT NULL,
      target ${t.text} NOT NULL,
      records_in ${t.integer} NOT NULL,
      records_out ${t.integer} NOT NULL,
      records_rejected ${t.integer} NOT NULL,
      started_at ${t.timestamp} NOT NULL,
      finished_at ${t.timestamp} NOT NULL)`,
    `CREATE INDEX etl_lineage_run ON etl_lineage (run_id)`,
    `CREATE TABLE etl_state (key ${t.text} PRIMARY KEY, value ${t.text} NOT NULL, updated_at ${t.timestamp} NOT NULL)`,
    `CREATE ${d.stagingTable} etl_stage_customers (run_id ${t.text} NOT NULL, ${c.customer}, PRIMARY KEY (run_id, customer_id))`,
    `CREATE ${d.stagingTable} etl_stage_products (run_id ${t.text} NOT NULL, ${c.product}, PRIMARY KEY (run_id, product_id))`,
    `CREATE ${d.stagingTable} etl_stage_sales (run_id ${t.text} NOT NULL, ${c.sale}, location ${t.text}, PRIMARY KEY (run_id, transaction_id))`,
    `CREATE ${d.stagingTable} etl_dirty_customers (customer_id ${t.text} PRIMARY KEY)`
  ]
}

/** Migration 2: a reject can be re-queued by `etl rejects --requeue`; the next run retries it. */
export const schemaV2 = (d: Dialect): ReadonlyArray<string> => [
  `ALTER TABLE etl_rejects ADD COLUMN retry_requested ${d.types.integer} NOT NULL DEFAULT 0`
]

/** Migration 3: settle customer_status with one index seek per customer instead of a window over all their facts. */
export const schemaV3 = (d: Dialect): ReadonlyArray<string> => [
  `ALTER TABLE etl_dirty_customers ADD COLUMN first_id ${d.types.text}`,
  `CREATE INDEX sales_fact_first_time ON sales_fact (customer_id) WHERE customer_status = 'First-time'`
]

/** Migration 4: staging tables rebuilt with the dialect's staging options (SQLite: WITHOUT ROWID). */
export const schemaV4 = (d: Dialect): ReadonlyArray<string> => {
  const c = columns(d)
  const t = d.types
  return [
    `DROP TABLE etl_stage_customers`,
    `DROP TABLE etl_stage_products`,
    `DROP TABLE etl_stage_sales`,
    `CREATE ${d.stagingTable} etl_stage_customers (run_id ${t.text} NOT NULL, ${c.customer}, PRIMARY KEY (run_id, customer_id))${d.stagingOptions}`,
    `CREATE ${d.stagingTable} etl_stage_products (run_id ${t.text} NOT NULL, ${c.product}, PRIMARY KEY (run_id, product_id))${d.stagingOptions}`,
    `CREATE ${d.stagingTable} etl_stage_sales (run_id ${t.text} NOT NULL, ${c.sale}, location ${t.text}, PRIMARY KEY (run_id, transaction_id))${d.stagingOptions}`
  ]
}

/**
 * Migration 5: staging becomes append-only, numbered by `seq` (SQLite's rowid,
 * PostgreSQL's identity). A batch is appended, never upserted, so staging
 * costs the same whatever the order of the keys (an upsert into a key-ordered
 * table took 30 s for 1M shuffled keys, an append 2.5 s); the merge keeps the
 * last row of each key.
 */
export const schemaV5 = (d: Dialect): ReadonlyArray<string> => {
  const c = columns(d)
  const t = d.types
  const seq = d.kind === "sqlite" ? "seq INTEGER PRIMARY KEY" : `seq ${t.serial}`
  return [
    `DROP TABLE etl_stage_customers`,
    `DROP TABLE etl_stage_products`,
    `DROP TABLE etl_stage_sales`,
    `CREATE ${d.stagingTable} etl_stage_customers (${seq}, run_id ${t.text} NOT NULL, ${c.customer})`,
    `CREATE ${d.stagingTable} etl_stage_products (${seq}, run_id ${t.text} NOT NULL, ${c.product})`,
    `CREATE ${d.stagingTable} etl_stage_sales (${seq}, run_id ${t.text} NOT NULL, ${c.sale}, location ${t.text})`
  ]
}

/**
 * The fact table's secondary indexes as the migrations create them. A merge
 * that inserts more facts than the table holds drops them and builds them
 * again afterwards: one sort per index instead of a B-tree insert per row.
 */
export const factIndexes = (d: Dialect): ReadonlyArray<readonly [name: string, create: string]> => [
  ["sales_fact_customer_order", `CREATE INDEX sales_fact_customer_order ON sales_fact (customer_id, transaction_date, transaction_id${d.binaryCollation})`],
  ["sales_fact_product", `CREATE INDEX sales_fact_product ON sales_fact (product_id)`],
  ["sales_fact_date", `CREATE INDEX sales_fact_date ON sales_fact (transaction_date)`],
  ["sales_fact_first_time", `CREATE INDEX sales_fact_first_time ON sales_fact (customer_id) WHERE customer_status = 'First-time'`]
]

/**
 * The fact table's foreign keys where a bulk load drops and adds them again:
 * PostgreSQL checks a foreign key with a trigger per inserted row (a 1M-row
 * merge spent most of its insert there) and adding it back checks every row in
 * one join. The merge has already quarantined every fact whose dimension rows
 * are missing, so the check finds nothing; it still runs. SQLite cannot drop a
 * constraint and checks it with one index probe per row.
 */
export const factForeignKeys = (d: Dialect): ReadonlyArray<readonly [name: string, create: string]> =>
  d.kind !== "postgres" ? [] : [
    ["sales_fact_customer_id_fkey", `ALTER TABLE sales_fact ADD CONSTRAINT sales_fact_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customer_dim (customer_id)`],
    ["sales_fact_product_id_fkey", `ALTER TABLE sales_fact ADD CONSTRAINT sales_fact_product_id_fkey FOREIGN KEY (product_id) REFERENCES product_dim (product_id)`]
  ]

/**
 * Migration 6: the failed-records file pages through a run's rejects by id.
 * SQLite's index on last_seen_run already ends with the rowid (reject_id).
 */
export const schemaV6 = (d: Dialect): ReadonlyArray<string> =>
  d.kind === "sqlite" ? [] : [`CREATE INDEX etl_rejects_seen_page ON etl_rejects (last_seen_run, reject_id)`]

/**
 * Migration 7: the partitions of partitioned runs (`etl run --partition-by day`):
 * their state, who worked on them, and how many times each step ran.
 */
export const schemaV7 = (d: Dialect): ReadonlyArray<string> => {
  const t = d.types
  return [
    `CREATE TABLE etl_partitions (
      run_id ${t.text} NOT NULL,
      partition_key ${t.text} NOT NULL,
      seq ${t.integer} NOT NULL,
      state ${t.text} NOT NULL,
      runner ${t.text},
      stage_attempts ${t.integer} NOT NULL DEFAULT 0,
      merges ${t.integer} NOT NULL DEFAULT 0,
      staged ${t.text},
      merged ${t.text},
      error ${t.text},
      updated_at ${t.timestamp} NOT NULL,
      PRIMARY KEY (run_id, partition_key))`
  ]
}

/** The migrations of dialect `d`, by id. SQL Server has its own T-SQL schema under the same ids. */
export const migrationsFor = (d: Dialect): Readonly<Record<string, ReadonlyArray<string>>> =>
  d.kind === "mssql"
    ? { "0001_warehouse": mssqlWarehouse, "0002_reject_requeue": [], "0003_first_transaction": [], "0004_staging_storage": [], "0005_append_staging": [], "0006_reject_pages": [], "0007_partitions": mssqlPartitions }
    : {
        "0001_warehouse": schemaV1(d),
        "0002_reject_requeue": schemaV2(d),
        "0003_first_transaction": schemaV3(d),
        "0004_staging_storage": schemaV4(d),
        "0005_append_staging": schemaV5(d),
        "0006_reject_pages": schemaV6(d),
        "0007_partitions": schemaV7(d)
      }
