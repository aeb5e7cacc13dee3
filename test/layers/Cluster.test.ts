/** Runners that start together against a fresh cluster database: which start errors are the catalog race, built again. */
import { SqlError } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, FiberId } from "effect"
import { racedOnCreate } from "../../src/layers/Cluster.js"

const failed = (driver: string) => Cause.fail(new SqlError.SqlError({ message: "Failed to execute statement", cause: new Error(driver) }))

describe("the cluster's tables created by two processes at once", () => {
  it("is the race when PostgreSQL's catalog refuses the second creation, as a failure or a defect", () => {
    expect(racedOnCreate(failed(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`))).toBe(true)
    // Seen in CI: CREATE TABLE IF NOT EXISTS of the migrations table, by three runners at once.
    expect(racedOnCreate(failed(`relation "cluster_migrations" already exists`))).toBe(true)
    expect(racedOnCreate(Cause.die(new Error(`relation "cluster_runners" already exists`)))).toBe(true)
  })

  it("is not the race otherwise: the start fails", () => {
    expect(racedOnCreate(failed(`password authentication failed for user "etl"`))).toBe(false)
    expect(racedOnCreate(failed(`database "etl_cluster" does not exist`))).toBe(false)
    expect(racedOnCreate(Cause.interrupt(FiberId.none))).toBe(false)
  })
})
