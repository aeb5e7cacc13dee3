/**
 * The warehouse port. Each dialect (SQLite, PostgreSQL, SQL Server) is a
 * Layer providing it; the programs see only this interface.
 *
 * Loads go through staging: each batch is upserted into `etl_stage_*` (one
 * transaction, last row wins per key), then one set-based merge per table
 * moves the run's rows into the star schema and counts what changed. That
 * dedupes across the whole run, makes re-runs report 0 changes, and lets the
 * database check referential integrity and settle `customer_status`.
 *
 * A first load into an empty fact table skips staging where the dialect allows
 * (loadFactsDirectly): the facts are written once, straight into sales_fact.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { WarehouseError, RunLocked } from "../schema/Errors.js"
import type { CustomerRow, ProductRow, Source } from "../schema/Records.js"
import { writeOutAmounts, type PricedSale } from "../rules/Sales.js"
import type { Reject, RejectCategory } from "../schema/Reject.js"
import type { DatabaseKind } from "./AppConfig.js"
import type { KeySetParts } from "./warehouse/KeySet.js"

export interface ChangeCounts {
  readonly inserted: number
  readonly updated: number
  readonly unchanged: number
}

export interface SalesMerge extends ChangeCounts {
  /** Staged facts whose customer or product is not in the warehouse: quarantined as `referential`. */
  readonly referential: number
  /** Open rejects this run resolved (late-arriving dimensions and corrected records). */
  readonly resolved: number
  /** Existing facts whose `customer_status` moved because an older transaction arrived. */
  readonly statusChanges: number
}

/**
 * A sale staged with where it was read, so a referential reject can say so. A CSV row's location
 * is kept as the text before its line number and the number (`line`), and its amounts as the
 * rules left them (whole cents on the fast path: PricedSale), both written out only for the rows
 * that need text (locationOf, writeOutSales): a string per row was 50 bytes of every fact's
 * garbage, though a first load stages and rejects few of them.
 */
export type StagedSale = PricedSale & {
  readonly location: string | null
  /** When present, the location is `location` followed by this line number. */
  readonly line?: number | undefined
}

/** Where a staged sale was read, written out. */
export const locationOf = (row: StagedSale): string | null =>
  row.line === undefined || row.location === null ? row.location : row.location + row.line

/**
 * Writes out the locations and amounts of `rows` in place (they are the caller's batch): what
 * staging stores, as text whatever the dialect.
 */
export const writeOutSales = <A extends StagedSale>(rows: ReadonlyArray<A>): ReadonlyArray<A> => {
  for (const row of rows) {
    writeOutAmounts(row)
    if (row.line === undefined) continue
    const located = row as { location: string | null; line?: number | undefined }
    located.location = locationOf(row)
    located.line = undefined
  }
  return rows
}

/**
 * What a direct first load offers a second thread that writes part of the sales (SplitRead): a
 * side file to write them into as `write` would (warehouse/SideFile), the dimension keys `write`
 * checks them against, and `absorb`, which takes the file in as later copies than everything
 * `write` has written. Only once `write` is done, and at most once.
 */
export interface SideLoad {
  readonly file: string
  readonly customers: KeySetParts
  readonly products: KeySetParts
  readonly absorb: Effect.Effect<void, WarehouseError>
}

export interface RunRecord {
  readonly runId: string
  readonly env: string
  readonly startedAt: string
  readonly mode: string
  readonly windowFrom: string | null
  readonly windowTo: string | null
}

export interface RunOutcome {
  readonly runId: string
  readonly finishedAt: string
  readonly status: "success" | "partial" | "failed" | "interrupted"
  readonly recordsRead: number
  readonly recordsLoaded: number
  readonly recordsRejected: number
  readonly recordsFiltered: number
  readonly errorRate: number
  readonly durationSeconds: number
  readonly summaryJson: string
}

export interface LineageRow {
  readonly runId: string
  readonly source: string
  readonly target: string
  readonly recordsIn: number
  readonly recordsOut: number
  readonly recordsRejected: number
  readonly startedAt: string
  readonly finishedAt: string
}

export interface OpenReject {
  readonly source: Source
  readonly recordKey: string | null
  readonly category: RejectCategory
  readonly reason: string
  readonly location: string | null
  readonly payload: string
  readonly attempts: number
}

export interface HistoryRow {
  readonly runId: string
  readonly status: string
  readonly mode: string
  readonly startedAt: string
  readonly durationSeconds: number | null
  readonly recordsRead: number | null
  readonly recordsRejected: number | null
  readonly errorRate: number | null
  readonly summary: string | null
}

export interface RunFigures {
  readonly runId: string
  readonly recordsRead: number
  readonly errorRate: number
  readonly durationSeconds: number
}

export interface QualityFigures {
  readonly customers: number
  readonly customersFlagged: number
  readonly facts: number
  readonly newestTransaction: string | null
}

export interface RejectGroup {
  readonly source: Source
  readonly category: RejectCategory
  readonly count: number
  readonly requeued: number
  readonly topReason: string
}

export interface ValidationFinding {
  readonly check: string
  readonly passed: boolean
  readonly detail: string
}

export type PartitionState = "planned" | "staging" | "staged" | "merged" | "failed"

/** One partition of a partitioned run (`etl run --partition-by day`), as `etl partitions` shows it. */
export interface PartitionRow {
  readonly runId: string
  readonly key: string
  readonly seq: number
  readonly state: PartitionState
  /** The runner that last worked on it (host:port pid). */
  readonly runner: string | null
  /** How many times its staging started: more than 1 after a runner died mid-way. */
  readonly stageAttempts: number
  /** How many times its merge committed: 1 once merged, whatever crashed on the way. */
  readonly merges: number
  readonly staged: string | null
  readonly merged: string | null
  readonly error: string | null
  readonly updatedAt: string
}

/** Where partition `key` of run `runId` stages its facts: apart from the other partitions'. */
export const partitionStageId = (runId: string, key: string): string => `${runId}#${key}`

export interface WarehouseService {
  readonly kind: DatabaseKind
  /** Creates or upgrades the schema; running it twice changes nothing. Returns the migrations applied. */
  readonly migrate: Effect.Effect<ReadonlyArray<string>, WarehouseError>
  /** Takes the run lock and records the run as started; fails with RunLocked when another run holds it. */
  readonly beginRun: (run: RunRecord) => Effect.Effect<void, WarehouseError | RunLocked>
  readonly finishRun: (outcome: RunOutcome) => Effect.Effect<void, WarehouseError>
  /** Keeps the run lock fresh while a long run works. */
  readonly heartbeat: (runId: string, now: string) => Effect.Effect<void, WarehouseError>
  readonly releaseLock: (runId: string) => Effect.Effect<void, WarehouseError>
  readonly stageCustomers: (runId: string, rows: ReadonlyArray<CustomerRow>) => Effect.Effect<void, WarehouseError>
  readonly stageProducts: (runId: string, rows: ReadonlyArray<ProductRow>) => Effect.Effect<void, WarehouseError>
  readonly stageSales: (runId: string, rows: ReadonlyArray<StagedSale>) => Effect.Effect<void, WarehouseError>
  readonly recordRejects: (runId: string, rejects: ReadonlyArray<Reject>) => Effect.Effect<void, WarehouseError>
  readonly mergeCustomers: (runId: string, now: string) => Effect.Effect<ChangeCounts, WarehouseError>
  /**
   * A first load of customers without staging: when customer_dim is empty, runs `load` in one
   * transaction, and what it writes goes straight into customer_dim (the last copy of a key wins,
   * as the merge's superseded pass has it); then the open customer rejects of the keys loaded are
   * resolved. None, having run nothing, when customer_dim holds customers or the dialect stages
   * (PostgreSQL, SQL Server): the caller then stages and merges.
   */
  readonly loadCustomersDirectly: <E, R>(
    runId: string,
    now: string,
    load: (write: (runId: string, rows: ReadonlyArray<CustomerRow>) => Effect.Effect<void, WarehouseError>) => Effect.Effect<void, E, R>
  ) => Effect.Effect<Option.Option<ChangeCounts>, E | WarehouseError, R>
  readonly mergeProducts: (runId: string, now: string) => Effect.Effect<ChangeCounts, WarehouseError>
  /** Merges the staged facts; moves the high-water mark in the same transaction when `moveMark`. */
  readonly mergeSales: (runId: string, now: string, moveMark: boolean) => Effect.Effect<SalesMerge, WarehouseError>
  /**
   * A first load without staging: when sales_fact is empty, waits for `after` (the run's
   * customers), then runs `load` in one transaction with the fact table's secondary indexes
   * dropped. What `load` writes is checked against the dimensions as the transaction sees them:
   * facts whose customer and product exist are upserted (the last copy of a key wins, across calls
   * of `write`: each call takes a batch, every key in it once, as Transform's batches hold them); the others
   * are quarantined as `referential` at the end, as the merge does. Then the indexes are built,
   * each customer's first transaction marked, the open rejects of the keys loaded resolved and
   * the high-water mark moved (when `moveMark`). None, having run nothing, when the fact table
   * holds facts, the dimensions hold too many keys to check in memory, or the dialect loads
   * faster through staging (PostgreSQL's COPY, SQL Server): the caller then stages and merges.
   */
  readonly loadFactsDirectly: <E, R>(
    runId: string,
    now: string,
    moveMark: boolean,
    load: (
      write: (runId: string, rows: ReadonlyArray<StagedSale>) => Effect.Effect<void, WarehouseError>,
      /** Where the warehouse can take part of the facts from a second thread (SQLite in a file). */
      side: Option.Option<SideLoad>
    ) => Effect.Effect<void, E, R>,
    after?: Effect.Effect<void>
  ) => Effect.Effect<Option.Option<SalesMerge>, E | WarehouseError, R>
  /**
   * Whether a first load started now would offer a side file (loadFactsDirectly's `side`): a
   * SQLite file, no transaction open, no facts yet. A second thread can be started ahead of it.
   */
  readonly offersSideFile: Effect.Effect<boolean, WarehouseError>
  /** Every product's cost as exact decimal text (null when it has none). */
  readonly productCosts: Effect.Effect<ReadonlyMap<string, string | null>, WarehouseError>
  /** The open rejects a run retries for `source`: `referential` ones (sales) and those re-queued by a user. */
  readonly rejectsToRetry: (source: Source) => Effect.Effect<ReadonlyArray<OpenReject>, WarehouseError>
  /** Open rejects per source and category, with their most common reason. */
  readonly rejectSummary: Effect.Effect<ReadonlyArray<RejectGroup>, WarehouseError>
  readonly listRejects: (filter: { readonly source?: Source | undefined; readonly category?: RejectCategory | undefined; readonly limit: number }) => Effect.Effect<ReadonlyArray<OpenReject>, WarehouseError>
  /** Marks the open rejects of a category (and source) for the next run to retry; returns how many. */
  readonly requeue: (category: RejectCategory, source?: Source) => Effect.Effect<number, WarehouseError>
  /** The open rejects run `runId` saw, `limit` at a time after reject id `after`, in id order. */
  readonly rejectsSeenIn: (runId: string, after: number, limit: number) => Effect.Effect<ReadonlyArray<OpenReject & { readonly id: number }>, WarehouseError>
  readonly highWaterMark: Effect.Effect<Option.Option<string>, WarehouseError>
  readonly lastSuccessfulRun: Effect.Effect<Option.Option<string>, WarehouseError>
  /** The last `n` successful runs, newest first: the baseline for anomaly detection. */
  readonly recentRuns: (n: number) => Effect.Effect<ReadonlyArray<RunFigures>, WarehouseError>
  /** The run history for the dashboard, oldest first, with each run's summary JSON. */
  readonly runHistory: (limit: number) => Effect.Effect<ReadonlyArray<HistoryRow>, WarehouseError>
  /** Figures for the quality checks: flagged customers, newest transaction date. */
  readonly qualityFigures: Effect.Effect<QualityFigures, WarehouseError>
  readonly recordLineage: (rows: ReadonlyArray<LineageRow>) => Effect.Effect<void, WarehouseError>
  /** validate_loaded_data: required columns, recomputed business rules, orphan facts. */
  readonly validate: (commissionRate: string) => Effect.Effect<ReadonlyArray<ValidationFinding>, WarehouseError>
  /** Clears the run's staged rows, its partitions' included. */
  readonly clearStaging: (runId: string) => Effect.Effect<void, WarehouseError>
  /** Records a partitioned run's partitions, in merge order; those already recorded (a resumed run) stay as they are. */
  readonly planPartitions: (runId: string, keys: ReadonlyArray<string>, at: string) => Effect.Effect<void, WarehouseError>
  /** A partition starts staging on `runner`: what an earlier attempt staged is cleared first. */
  readonly startPartition: (runId: string, key: string, runner: string, at: string) => Effect.Effect<void, WarehouseError>
  readonly partitionStaged: (runId: string, key: string, summary: string, at: string) => Effect.Effect<void, WarehouseError>
  readonly partitionFailed: (runId: string, key: string, error: string, at: string) => Effect.Effect<void, WarehouseError>
  /** How many partitions before `key` are neither merged nor failed: merges go in partition order. */
  readonly partitionsAhead: (runId: string, key: string) => Effect.Effect<number, WarehouseError>
  /**
   * Merges one partition's staged facts, exactly once: the merge and the
   * partition's `merged` state commit together, and a partition already merged
   * returns its recorded counts (`replayed`) without touching the warehouse.
   * Fails when the run is no longer running.
   */
  readonly mergePartition: (runId: string, key: string, now: string, at: string) => Effect.Effect<{ readonly merge: SalesMerge; readonly replayed: boolean }, WarehouseError>
  /** Fails unless run `runId` is still running: a partition of an interrupted run loads nothing. */
  readonly partitionRunLive: (runId: string) => Effect.Effect<void, WarehouseError>
  /** The partitions of `runId`, or of the newest partitioned run when null. */
  readonly partitions: (runId: string | null) => Effect.Effect<ReadonlyArray<PartitionRow>, WarehouseError>
  readonly moveHighWaterMark: (now: string) => Effect.Effect<void, WarehouseError>
  /**
   * Backs the warehouse up before a full refresh and keeps the newest `keep`:
   * SQLite's online backup into `dir`, a backup schema on a server. Returns where.
   */
  readonly backup: (runId: string, dir: string, keep: number) => Effect.Effect<string | null, WarehouseError>
  /** Runs the effect in one transaction and rolls it back: `--dry-run`. */
  readonly rollbackAfter: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | WarehouseError, R>
  readonly tableCounts: Effect.Effect<Readonly<Record<string, number>>, WarehouseError>
}

export class Warehouse extends Context.Tag("etl/Warehouse")<Warehouse, WarehouseService>() {}
