/** What a database error says to the user, and whether it is worth retrying. */
import { describe, expect, it } from "@effect/vitest"
import { causeMessage, isTransientCause } from "../../src/services/SqlClients.js"

describe("database errors", () => {
  it("name the innermost cause, and every attempt of an AggregateError", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    const sequence = new AggregateError([refused, refused], "Could not connect (sequence)")
    const wrapped = { message: "Failed to connect", cause: sequence }
    expect(causeMessage(wrapped)).toBe("Could not connect (sequence): connect ECONNREFUSED 127.0.0.1:1")
    expect(causeMessage({ message: "outer", cause: new Error("relation \"x\" does not exist") })).toBe("relation \"x\" does not exist")
  })

  it("are transient for lost connections, timeouts and locks, not for mistakes in SQL", () => {
    expect(isTransientCause({ cause: { code: "ECONNREFUSED" } })).toBe(true)
    expect(isTransientCause({ cause: { code: "57014", message: "canceling statement due to statement timeout" } })).toBe(true)
    expect(isTransientCause(new Error("Client has encountered a connection error and is not queryable"))).toBe(true)
    expect(isTransientCause({ cause: { code: "SQLITE_BUSY" } })).toBe(true)
    expect(isTransientCause({ cause: { code: "42P01", message: "relation \"x\" does not exist" } })).toBe(false)
  })
})
