/**
 * The warehouse schema in T-SQL (SQL Server 2016 or later). One migration
 * holds the schema the other dialects reach through migrations 1–4, under the
 * same ids, so `etl_migrations` reads the same everywhere.
 *
 * Keys are NVARCHAR(450) (an index key is at most 900 bytes), money
 * DECIMAL(18, 2) and input amounts DECIMAL(38, 12), dates DATE, timestamps
 * DATETIME2 defaulting to GETDATE(). The indexes follow the origin's strategy:
 * the fact table's foreign keys and date, the open rejects, the run history by
 * status, and a filtered index on the first transaction of each customer.
 */
// Binary collation, as SQLite and PostgreSQL compare: 'C1' and 'c1' are two keys, and a
// change of case is a change. It also orders text by code point (`T15` before `T3`).
const bin = "COLLATE Latin1_General_100_BIN2"
/** Keys and codes: indexable (at most 900 bytes). */
const key = `NVARCHAR(450) ${bin}`
const short = `NVARCHAR(4000) ${bin}`
const text = `NVARCHAR(MAX) ${bin}`

const customer = `
      customer_id ${key} NOT NULL,
      first_name ${short},
      last_name ${short},
      name ${short},
      email ${short},
      email_valid BIT NOT NULL,
      phone ${short},
      address ${text},
      base_segment ${key},
      segment ${key} NOT NULL,
      registration_date DATE,
      quality_flags ${short}`

const product = `
      product_id ${key} NOT NULL,
      name ${short},
      category ${key} NOT NULL,
      raw_category ${short},
      brand ${short},
      model ${short},
      price DECIMAL(38, 12) NOT NULL CHECK (price >= 0),
      cost DECIMAL(38, 12) CHECK (cost >= 0),
      price_category ${key} NOT NULL,
      quantity BIGINT CHECK (quantity >= 0),
      warehouse ${short},
      inventory_status ${key} NOT NULL,
      quality_flags ${short}`

const sale = `
      transaction_id ${key} NOT NULL,
      customer_id ${key} NOT NULL,
      product_id ${key} NOT NULL,
      quantity BIGINT NOT NULL CHECK (quantity >= 1),
      unit_price DECIMAL(38, 12) NOT NULL CHECK (unit_price >= 0),
      discount_amount DECIMAL(38, 12) NOT NULL CHECK (discount_amount >= 0),
      total_amount DECIMAL(18, 2) NOT NULL,
      cost_amount DECIMAL(18, 2),
      profit_margin DECIMAL(18, 2),
      commission DECIMAL(18, 2) NOT NULL,
      value_tier ${key} NOT NULL,
      transaction_date DATE NOT NULL,
      sales_rep_id ${short}`

export const mssqlWarehouse: ReadonlyArray<string> = [
  `CREATE TABLE customer_dim (${customer},
      created_date DATETIME2(3) NOT NULL DEFAULT GETDATE(),
      updated_date DATETIME2(3),
      CONSTRAINT pk_customer_dim PRIMARY KEY (customer_id))`,
  `CREATE TABLE product_dim (${product},
      created_date DATETIME2(3) NOT NULL DEFAULT GETDATE(),
      updated_date DATETIME2(3),
      CONSTRAINT pk_product_dim PRIMARY KEY (product_id))`,
  `CREATE TABLE sales_fact (${sale},
      customer_status ${key},
      run_id ${key} NOT NULL,
      created_date DATETIME2(3) NOT NULL DEFAULT GETDATE(),
      updated_date DATETIME2(3),
      CONSTRAINT pk_sales_fact PRIMARY KEY (transaction_id),
      CONSTRAINT fk_sales_customer FOREIGN KEY (customer_id) REFERENCES customer_dim (customer_id),
      CONSTRAINT fk_sales_product FOREIGN KEY (product_id) REFERENCES product_dim (product_id))`,
  `CREATE INDEX ix_sales_fact_customer_order ON sales_fact (customer_id, transaction_date, transaction_id)`,
  `CREATE INDEX ix_sales_fact_product ON sales_fact (product_id)`,
  `CREATE INDEX ix_sales_fact_date ON sales_fact (transaction_date) INCLUDE (total_amount, commission)`,
  `CREATE INDEX ix_sales_fact_first_time ON sales_fact (customer_id) WHERE customer_status = 'First-time'`,
  `CREATE TABLE etl_rejects (
      reject_id BIGINT IDENTITY(1, 1) CONSTRAINT pk_etl_rejects PRIMARY KEY,
      source ${key} NOT NULL,
      record_key ${key},
      reject_key ${key} NOT NULL,
      category ${key} NOT NULL,
      reason ${text} NOT NULL,
      location ${text},
      payload ${text} NOT NULL,
      attempts BIGINT NOT NULL,
      first_seen_run ${key} NOT NULL,
      last_seen_run ${key} NOT NULL,
      resolved_run ${key},
      retry_requested BIGINT NOT NULL DEFAULT 0,
      CONSTRAINT uq_etl_rejects UNIQUE (source, reject_key))`,
  `CREATE INDEX ix_etl_rejects_open ON etl_rejects (source, category) WHERE resolved_run IS NULL`,
  `CREATE INDEX ix_etl_rejects_last_seen ON etl_rejects (last_seen_run, reject_id)`,
  `CREATE TABLE etl_run_history (
      run_id ${key} CONSTRAINT pk_etl_run_history PRIMARY KEY,
      env ${key} NOT NULL,
      mode ${key} NOT NULL,
      started_at DATETIME2(3) NOT NULL,
      finished_at DATETIME2(3),
      status ${key} NOT NULL,
      window_from DATE,
      window_to DATE,
      records_read BIGINT,
      records_loaded BIGINT,
      records_rejected BIGINT,
      records_filtered BIGINT,
      error_rate FLOAT,
      duration_seconds FLOAT,
      summary ${text})`,
  `CREATE INDEX ix_etl_run_history_status ON etl_run_history (status, started_at)`,
  `CREATE TABLE etl_lineage (
      lineage_id BIGINT IDENTITY(1, 1) CONSTRAINT pk_etl_lineage PRIMARY KEY,
      run_id ${key} NOT NULL,
      source ${short} NOT NULL,
      target ${key} NOT NULL,
      records_in BIGINT NOT NULL,
      records_out BIGINT NOT NULL,
      records_rejected BIGINT NOT NULL,
      started_at DATETIME2(3) NOT NULL,
      finished_at DATETIME2(3) NOT NULL)`,
  `CREATE INDEX ix_etl_lineage_run ON etl_lineage (run_id)`,
  `CREATE TABLE etl_state ("key" ${key} CONSTRAINT pk_etl_state PRIMARY KEY, value ${text} NOT NULL, updated_at DATETIME2(3) NOT NULL)`,
  `CREATE TABLE etl_stage_customers (seq BIGINT IDENTITY(1, 1) CONSTRAINT pk_etl_stage_customers PRIMARY KEY, run_id ${key} NOT NULL, ${customer})`,
  `CREATE TABLE etl_stage_products (seq BIGINT IDENTITY(1, 1) CONSTRAINT pk_etl_stage_products PRIMARY KEY, run_id ${key} NOT NULL, ${product})`,
  `CREATE TABLE etl_stage_sales (seq BIGINT IDENTITY(1, 1) CONSTRAINT pk_etl_stage_sales PRIMARY KEY, run_id ${key} NOT NULL, ${sale}, location ${text})`,
  `CREATE TABLE etl_dirty_customers (customer_id ${key} CONSTRAINT pk_etl_dirty_customers PRIMARY KEY, first_id ${key})`
]

/** Migration 7 in T-SQL: partitioned runs' bookkeeping (partitioned runs themselves need SQLite or PostgreSQL). */
export const mssqlPartitions: ReadonlyArray<string> = [
  `CREATE TABLE etl_partitions (
    run_id ${key} NOT NULL,
    partition_key ${key} NOT NULL,
    seq INT NOT NULL,
    state ${key} NOT NULL,
    runner ${short},
    stage_attempts INT NOT NULL DEFAULT 0,
    merges INT NOT NULL DEFAULT 0,
    staged ${text},
    merged ${text},
    error ${text},
    updated_at DATETIME2(3) NOT NULL,
    CONSTRAINT pk_etl_partitions PRIMARY KEY (run_id, partition_key))`
]
