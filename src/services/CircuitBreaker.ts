/**
 * A circuit breaker per dependency: closed; open after
 * CIRCUIT_BREAKER_THRESHOLD consecutive transient failures, or as soon as an
 * operation has spent all its retries on transient failures (a dependency
 * that failed a whole retry cycle is down: stop calling it, as Spring Retry's
 * breaker does); half-open after CIRCUIT_BREAKER_RESET_SECONDS, when one trial
 * call may pass; closed again on a success. While open, calls fail at once
 * with CircuitOpen. Every change of state is logged and alerted. Retries go
 * through the breaker, so each attempt counts toward the threshold.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Alerts } from "./Alerts.js"
import { AppConfig } from "./AppConfig.js"
import { retryTransient } from "./Resilience.js"
import { makeDirectories } from "./Directories.js"

export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  dependency: Schema.String,
  failures: Schema.Number,
  lastError: Schema.String,
  retryAfter: Schema.String
}) {
  /** Never retried: waiting is the breaker's job. */
  readonly transient = false
  override get message() {
    return `the circuit breaker for ${this.dependency} is open after ${this.failures} consecutive failures (last: ${this.lastError}); calls fail fast until ${this.retryAfter}`
  }
}

export type BreakerState = "closed" | "open" | "half-open"

interface Circuit {
  state: BreakerState
  failures: number
  openedAt: number
  lastError: string
  /** What the dependency pointed at: a breaker opened for one database says nothing of another. */
  target: string
}

type Failure = { readonly transient: boolean; readonly message: string }

export class CircuitBreaker extends Effect.Service<CircuitBreaker>()("etl/CircuitBreaker", {
  effect: Effect.gen(function* () {
    const { files, processing } = yield* AppConfig
    const alerts = yield* Alerts
    const fs = yield* FileSystem.FileSystem
    // Kept across runs: a cron-started pipeline is a new process each time.
    const statePath = `${files.outputDir.replace(/\/+$/, "")}/circuit_state.json`
    const saved = yield* fs.readFileString(statePath).pipe(
      Effect.map((t) => JSON.parse(t) as Record<string, Circuit>),
      Effect.orElseSucceed(() => ({}) as Record<string, Circuit>)
    )
    const { database } = yield* AppConfig
    const targetOf = (dependency: string) => (dependency === "warehouse" ? database.display : "")
    // A saved circuit for another target (DATABASE_URL changed since) starts closed.
    const circuits = new Map<string, Circuit>(Object.entries(saved).filter(([name, c]) => (c.target ?? "") === targetOf(name)))
    const save = Effect.suspend(() =>
      makeDirectories(fs, files.outputDir).pipe(
        Effect.zipRight(fs.writeFileString(statePath, JSON.stringify(Object.fromEntries(circuits), null, 2) + "\n"))
      )
    ).pipe(
      Effect.catchAll((e) => Effect.logWarning(`cannot save the circuit breaker state to ${statePath}: ${e.message}`))
    )
    const resetMs = processing.circuitBreakerResetSeconds * 1000
    const circuit = (name: string) => {
      let c = circuits.get(name)
      if (c === undefined) {
        c = { state: "closed", failures: 0, openedAt: 0, lastError: "", target: targetOf(name) }
        circuits.set(name, c)
      }
      return c
    }
    const transition = (name: string, c: Circuit, to: BreakerState, why: string) =>
      Effect.gen(function* () {
        const from = c.state
        c.state = to
        yield* save
        const text = `circuit breaker for ${name}: ${from} → ${to} (${why})`
        yield* to === "open" ? Effect.logError(text) : Effect.logWarning(text)
        yield* alerts.send({
          key: `circuit_${to}_${name}`,
          severity: to === "open" ? "critical" : "warning",
          title: `Circuit breaker ${to.toUpperCase()} - ${name}`,
          stage: name,
          errorType: "CircuitBreaker",
          message: text
        })
      })

    /** Runs `effect` through the breaker of `dependency`. */
    const protect = <A, E extends Failure, R>(dependency: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const c = circuit(dependency)
        const now = yield* Clock.currentTimeMillis
        if (c.state === "open") {
          if (now - c.openedAt < resetMs) {
            return yield* new CircuitOpen({
              dependency, failures: c.failures, lastError: c.lastError,
              retryAfter: new Date(c.openedAt + resetMs).toISOString()
            })
          }
          yield* transition(dependency, c, "half-open", `${processing.circuitBreakerResetSeconds} s passed; one trial call`)
        }
        return yield* effect.pipe(
          Effect.tap(() =>
            c.state === "closed" && c.failures === 0 ? Effect.void : Effect.suspend(() => {
              c.failures = 0
              return c.state === "closed" ? save : transition(dependency, c, "closed", "the trial call succeeded")
            })),
          Effect.tapError((e) =>
            !e.transient ? Effect.void : Effect.gen(function* () {
              c.failures++
              c.lastError = e.message
              if (c.state === "half-open" || (c.state === "closed" && c.failures >= processing.circuitBreakerThreshold)) {
                c.openedAt = yield* Clock.currentTimeMillis
                yield* transition(dependency, c, "open", `${c.failures} consecutive failures, last: ${e.message}`)
              } else yield* save
            }))
        )
      })

    /**
     * retry_with_backoff through the breaker: transient failures are retried on
     * the configured schedule until they stop, the retries run out, or the
     * breaker opens.
     */
    const resilient = <A, E extends Failure, R>(dependency: string, what: string, effect: Effect.Effect<A, E, R>) =>
      retryTransient(processing, what)(protect(dependency, effect)).pipe(
        Effect.tapError((e) =>
          Effect.gen(function* () {
            const c = circuit(dependency)
            if (!e.transient || c.state === "open") return
            c.openedAt = yield* Clock.currentTimeMillis
            yield* transition(
              dependency, c, "open",
              `${what}: all ${processing.maxRetries + 1} attempts failed, last: ${e.message}`
            )
          }))
      )

    /** One clause for messages: "the circuit breaker for X is open until T" or "… is closed". */
    const describe = (dependency: string) =>
      Effect.sync(() => {
        const c = circuit(dependency)
        return c.state === "open"
          ? `the circuit breaker for ${dependency} is open until ${new Date(c.openedAt + resetMs).toISOString()}: runs before then stop at once`
          : `the circuit breaker for ${dependency} is ${c.state} (${c.failures} consecutive failures of ${processing.circuitBreakerThreshold})`
      })

    return {
      protect,
      resilient,
      describe,
      state: (dependency: string) => Effect.sync(() => circuit(dependency).state)
    }
  })
}) {}
