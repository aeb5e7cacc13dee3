/**
 * The warehouse schema for SQLite as migrations. Money is REAL (SQLite has no
 * decimal type; values are computed exactly in cents and stored from their
 * decimal text), dates are `YYYY-MM-DD` TEXT, booleans 0/1.
 */

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

const customerColumns = `
  customer_id TEXT NOT NULL,
  first_name TEXT,
  last_name TEXT,
  name TEXT,
  email TEXT,
  email_valid INTEGER NOT NULL CHECK (email_valid IN (0, 1)),
  phone TEXT,
  address TEXT,
  base_segment TEXT,
  segment TEXT NOT NULL,
  registration_date TEXT,
  quality_flags TEXT`

const productColumns = `
  product_id TEXT NOT NULL,
  name TEXT,
  category TEXT NOT NULL,
  raw_category TEXT,
  brand TEXT,
  model TEXT,
  price REAL NOT NULL CHECK (price >= 0),
  cost REAL CHECK (cost >= 0),
  price_category TEXT NOT NULL,
  quantity INTEGER CHECK (quantity >= 0),
  warehouse TEXT,
  inventory_status TEXT NOT NULL,
  quality_flags TEXT`

const saleColumns = `
  transaction_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity >= 1),
  unit_price REAL NOT NULL CHECK (unit_price >= 0),
  discount_amount REAL NOT NULL CHECK (discount_amount >= 0),
  total_amount REAL NOT NULL,
  cost_amount REAL,
  profit_margin REAL,
  commission REAL NOT NULL,
  value_tier TEXT NOT NULL,
  transaction_date TEXT NOT NULL,
  sales_rep_id TEXT`

/** Migration 1: the star schema, the dead-letter store, run history, lineage, state and staging. */
export const schemaV1: ReadonlyArray<string> = [
  `CREATE TABLE customer_dim (${customerColumns},
    created_date TEXT NOT NULL,
    updated_date TEXT,
    PRIMARY KEY (customer_id))`,
  `CREATE TABLE product_dim (${productColumns},
    created_date TEXT NOT NULL,
    updated_date TEXT,
    PRIMARY KEY (product_id))`,
  `CREATE TABLE sales_fact (${saleColumns},
    customer_status TEXT,
    run_id TEXT NOT NULL,
    created_date TEXT NOT NULL,
    updated_date TEXT,
    PRIMARY KEY (transaction_id),
    FOREIGN KEY (customer_id) REFERENCES customer_dim (customer_id),
    FOREIGN KEY (product_id) REFERENCES product_dim (product_id))`,
  // customer_status is settled per customer in (transaction_date, transaction_id) order.
  `CREATE INDEX sales_fact_customer_order ON sales_fact (customer_id, transaction_date, transaction_id)`,
  `CREATE INDEX sales_fact_product ON sales_fact (product_id)`,
  `CREATE INDEX sales_fact_date ON sales_fact (transaction_date)`,
  `CREATE TABLE etl_rejects (
    reject_id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    record_key TEXT,
    reject_key TEXT NOT NULL,
    category TEXT NOT NULL,
    reason TEXT NOT NULL,
    location TEXT,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_seen_run TEXT NOT NULL,
    last_seen_run TEXT NOT NULL,
    resolved_run TEXT,
    UNIQUE (source, reject_key))`,
  `CREATE INDEX etl_rejects_open ON etl_rejects (source, category) WHERE resolved_run IS NULL`,
  `CREATE INDEX etl_rejects_last_seen ON etl_rejects (last_seen_run)`,
  `CREATE TABLE etl_run_history (
    run_id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    window_from TEXT,
    window_to TEXT,
    records_read INTEGER,
    records_loaded INTEGER,
    records_rejected INTEGER,
    records_filtered INTEGER,
    error_rate REAL,
    duration_seconds REAL,
    summary TEXT)`,
  `CREATE INDEX etl_run_history_status ON etl_run_history (status, started_at)`,
  `CREATE TABLE etl_lineage (
    lineage_id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    records_in INTEGER NOT NULL,
    records_out INTEGER NOT NULL,
    records_rejected INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL)`,
  `CREATE INDEX etl_lineage_run ON etl_lineage (run_id)`,
  `CREATE TABLE etl_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  `CREATE TABLE etl_stage_customers (run_id TEXT NOT NULL, ${customerColumns}, PRIMARY KEY (run_id, customer_id))`,
  `CREATE TABLE etl_stage_products (run_id TEXT NOT NULL, ${productColumns}, PRIMARY KEY (run_id, product_id))`,
  `CREATE TABLE etl_stage_sales (run_id TEXT NOT NULL, ${saleColumns}, location TEXT, PRIMARY KEY (run_id, transaction_id))`,
  `CREATE TABLE etl_dirty_customers (customer_id TEXT PRIMARY KEY)`
]
