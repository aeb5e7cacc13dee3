/** Runners that start together against a fresh cluster database: which start errors are the catalog race, built again. */
import { SqlError } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, FiberId, Layer } from "effect"
import { againIfRacedOnCreate, racedOnCreate } from "../../src/layers/Cluster.js"

const failed = (driver: string) => Cause.fail(new SqlError.SqlError({ message: "Failed to execute statement", cause: new Error(driver) }))

describe("the cluster's tables created by two processes at once", () => {
  it("is the race when PostgreSQL's catalog refuses the second creation, as a failure or a defect", () => {
    expect(racedOnCreate(failed(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`))).toBe(true)
    // Seen in CI: two runners creating the same index (or table) at once.
    expect(racedOnCreate(failed(`duplicate key value violates unique constraint "pg_class_relname_nsp_index"`))).toBe(true)
    expect(racedOnCreate(failed(`duplicate key value violates unique constraint "pg_namespace_nspname_index"`))).toBe(true)
    // Seen in CI: CREATE TABLE IF NOT EXISTS of the migrations table, by three runners at once.
    expect(racedOnCreate(failed(`relation "cluster_migrations" already exists`))).toBe(true)
    expect(racedOnCreate(Cause.die(new Error(`relation "cluster_runners" already exists`)))).toBe(true)
  })

  it("is not the race otherwise: the start fails", () => {
    expect(racedOnCreate(failed(`password authentication failed for user "etl"`))).toBe(false)
    expect(racedOnCreate(failed(`database "etl_cluster" does not exist`))).toBe(false)
    expect(racedOnCreate(Cause.interrupt(FiberId.none))).toBe(false)
  })

  class Tables extends Context.Tag("test/Tables")<Tables, { readonly attempt: number }>() {}
  /** A start that loses the race `losses` times (or fails with `other`), then finds the tables there. */
  const starting = (losses: number, other?: string) => {
    let attempts = 0
    const layer = Layer.effect(Tables, Effect.suspend(() => {
      attempts += 1
      if (other !== undefined) return Effect.fail(new SqlError.SqlError({ message: "Failed to execute statement", cause: new Error(other) }))
      return attempts <= losses
        ? Effect.fail(new SqlError.SqlError({ message: "Failed to execute statement", cause: new Error(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`) }))
        : Effect.succeed({ attempt: attempts })
    }))
    return { layer: againIfRacedOnCreate(layer), attempts: () => attempts }
  }

  it.live("starts after losing the race again on the next table, as the second of three runners can", () =>
    Effect.gen(function* () {
      const start = starting(3)
      expect(yield* Effect.provide(Tables, start.layer)).toEqual({ attempt: 4 })
    }))

  it.live("gives up after five lost races, and at once on any other failure", () =>
    Effect.gen(function* () {
      const losing = starting(99)
      expect(racedOnCreate(yield* Effect.flip(Effect.sandbox(Effect.provide(Tables, losing.layer))))).toBe(true)
      expect(losing.attempts()).toBe(5)
      const refused = starting(0, `password authentication failed for user "etl"`)
      expect(racedOnCreate(yield* Effect.flip(Effect.sandbox(Effect.provide(Tables, refused.layer))))).toBe(false)
      expect(refused.attempts()).toBe(1)
    }))
})
