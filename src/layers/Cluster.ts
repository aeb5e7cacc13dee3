/**
 * Effect Cluster wiring for partitioned runs: runners (`etl runner`) host the
 * partition workflows; a partitioned `etl run` is a client that submits them.
 * Both keep the cluster's state (messages, replies, shard locks, runners) in
 * PostgreSQL: CLUSTER_DATABASE_URL, or DATABASE_URL when the warehouse is
 * PostgreSQL. Runners reach each other over TCP at RUNNER_HOST:RUNNER_PORT.
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { parseClusterUrl } from "../services/AppConfig.js"

/** Where the cluster keeps its state: a PostgreSQL URL. */
export const clusterStorage = Effect.gen(function* () {
  const explicit = yield* Config.string("CLUSTER_DATABASE_URL").pipe(Config.option)
  const warehouse = yield* Config.string("DATABASE_URL").pipe(Config.option)
  const url = Option.orElse(explicit, () => Option.filter(warehouse, (u) => u.startsWith("postgres")))
  if (Option.isNone(url)) {
    return yield* Effect.fail(ConfigError.MissingData(["CLUSTER_DATABASE_URL"],
      "partitioned runs keep their state in PostgreSQL: set CLUSTER_DATABASE_URL=postgres://user:pass@host:port/db (or use a PostgreSQL DATABASE_URL)"))
  }
  return yield* Either.match(parseClusterUrl(url.value), {
    onLeft: (reason) => Effect.fail(ConfigError.InvalidData(["CLUSTER_DATABASE_URL"], reason)),
    onRight: Effect.succeed
  })
})

const storageLayer = Layer.unwrapEffect(
  Effect.map(clusterStorage, (db) => PgClient.layer({ url: db.url, connectTimeout: Duration.seconds(10), applicationName: "etl-cluster" }))
)

/**
 * Shard locks are PostgreSQL advisory locks held by each runner's connection:
 * a runner that dies (even by SIGKILL) loses them with its connection, and the
 * others take its shards within a few seconds and resume its workflows from
 * their journal.
 */
const timings = {
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(10),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(5),
  // A partition's workflow waits for its merge turn for as long as it takes.
  entityMaxIdleTime: Duration.minutes(10)
}

/** An error's message and those of its causes. */
const messages = (u: unknown): string => (u instanceof Error ? `${u.message} ${messages(u.cause)}` : "")

/**
 * The cluster creates its tables when a process starts. Two processes doing so
 * at the same moment against a fresh database collide in PostgreSQL's catalog,
 * `CREATE TABLE IF NOT EXISTS` or not (`duplicate key value violates unique
 * constraint "pg_type_typname_nsp_index"`, or `relation "cluster_migrations"
 * already exists`), and the loser died at start (seen when three runners
 * started together): it builds again instead, and finds the tables there.
 * The two losers of three could collide again on the next table (seen once in
 * CI, retrying at once): each waits a random 50-250 ms first, up to 5 times.
 * Two creating the same index (or table) at once collide on the catalog's
 * own index of names instead (`pg_class_relname_nsp_index`, seen in CI in
 * session 15), two creating a schema on `pg_namespace_nspname_index`.
 */
export const racedOnCreate = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.defects(cause), ...Cause.failures(cause)].some((e) =>
    /pg_type_typname_nsp_index|pg_class_relname_nsp_index|pg_namespace_nspname_index|relation "[^"]+" already exists/.test(messages(e)))

const CREATE_TRIES = 5

export const againIfRacedOnCreate = <A, E, R>(layer: Layer.Layer<A, E, R>, tries = CREATE_TRIES): Layer.Layer<A, E, R> =>
  Layer.fresh(layer).pipe(
    Layer.catchAllCause((cause) =>
      racedOnCreate(cause) && tries > 1
        ? Layer.unwrapEffect(Effect.as(
          Effect.flatMap(Random.nextIntBetween(50, 250), (ms) => Effect.sleep(Duration.millis(ms))),
          againIfRacedOnCreate(layer, tries - 1)
        ))
        : Layer.failCause(cause))
  )

export interface RunnerOptions {
  readonly host: string
  readonly port: number
}

/** This process as a runner at `host:port`, hosting the workflows of `workflows`. */
export const runnerLayer = <A, E, R>(options: RunnerOptions, workflows: Layer.Layer<A, E, R>) =>
  workflows.pipe(
    Layer.provide(ClusterWorkflowEngine.layer),
    Layer.provide(againIfRacedOnCreate(NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: { ...timings, runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)) }
    }))),
    Layer.provide(storageLayer)
  )

/** A client of the cluster: submits workflows to the runners and waits for their results. */
export const clientLayer = ClusterWorkflowEngine.layer.pipe(
  Layer.provide(againIfRacedOnCreate(NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig: timings }))),
  Layer.provide(storageLayer)
)
