/** Retry timings, circuit breaker transitions and alert throttling, on the TestClock. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Layer, Option, TestClock, TestServices } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { WarehouseError } from "../../src/schema/Errors.js"
import { Alerts } from "../../src/services/Alerts.js"
import { CircuitBreaker } from "../../src/services/CircuitBreaker.js"
import { inputs } from "../support/Fixtures.js"

const fail = new WarehouseError({ operation: "query", reason: "connection refused", transient: true })

const layerWith = (settings: Record<string, string>) => {
  const { dir, settings: base } = inputs({})
  const all = { ...base, ...settings }
  return {
    dir,
    layer: Layer.fresh(CircuitBreaker.Default).pipe(
      Layer.provideMerge(Layer.fresh(Alerts.Default)),
      Layer.provideMerge(TestLayer.config(all)),
      Layer.provideMerge(NodeContext.layer)
    )
  }
}

describe("retry_with_backoff", () => {
  const { layer } = layerWith({ MAX_RETRIES: "3", RETRY_BASE_DELAY_MS: "200", RETRY_BACKOFF_FACTOR: "2", CIRCUIT_BREAKER_THRESHOLD: "100" })
  it.layer(layer)((it) => {
    it.effect("retries a transient failure with exponential, jittered backoff, MAX_RETRIES times", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        const attempts: Array<number> = []
        const op = Effect.gen(function* () {
          attempts.push(yield* TestClock.currentTimeMillis)
          return yield* Effect.fail(fail)
        })
        const fiber = yield* Effect.fork(breaker.resilient("db", "query", op))
        // The clock moves only while the call waits out a backoff: between a failure and its backoff
        // the breaker saves its state to a file (real I/O), and a clock moved meanwhile (on a loaded
        // machine) started the backoff late, as if it had been longer.
        while (Option.isNone(yield* Fiber.poll(fiber))) {
          const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
          if (sleeps.length === 0) yield* TestServices.provideLive(Effect.sleep(Duration.millis(1)))
          else yield* TestClock.setTime(Math.min(...sleeps))
        }
        const exit = yield* Fiber.await(fiber)
        expect(exit._tag).toBe("Failure")
        expect(attempts).toHaveLength(4)
        // A whole retry cycle failed: the breaker opens although 4 < CIRCUIT_BREAKER_THRESHOLD.
        expect(yield* breaker.state("db")).toBe("open")
        // 200, 400, 800 ms, each jittered to between 80% and 120%.
        const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!)
        ;[200, 400, 800].forEach((base, i) => {
          expect(gaps[i]).toBeGreaterThanOrEqual(base * 0.8)
          expect(gaps[i]).toBeLessThanOrEqual(base * 1.2)
        })
      }))

    it.effect("does not retry an error that is not transient", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        let calls = 0
        const op = Effect.suspend(() => {
          calls++
          return Effect.fail(new WarehouseError({ operation: "q", reason: "syntax error", transient: false }))
        })
        yield* Effect.either(breaker.resilient("db2", "query", op))
        expect(calls).toBe(1)
        expect(yield* breaker.state("db2")).toBe("closed")
      }))
  })
})

describe("circuit breaker", () => {
  const { dir, layer } = layerWith({ MAX_RETRIES: "0", CIRCUIT_BREAKER_THRESHOLD: "3", CIRCUIT_BREAKER_RESET_SECONDS: "60" })
  it.layer(layer)((it) => {
    it.effect("opens after THRESHOLD consecutive failures, fails fast, half-opens after the reset time, closes on success", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        let calls = 0
        let healthy = false
        const op = Effect.suspend(() => {
          calls++
          return healthy ? Effect.succeed("ok") : Effect.fail(fail)
        })
        for (let i = 0; i < 3; i++) yield* Effect.either(breaker.protect("warehouse", op))
        expect(yield* breaker.state("warehouse")).toBe("open")
        const fast = yield* Effect.either(breaker.protect("warehouse", op))
        expect(calls).toBe(3)
        expect(fast._tag === "Left" && fast.left._tag).toBe("CircuitOpen")
        yield* TestClock.adjust(Duration.seconds(59))
        expect((yield* Effect.either(breaker.protect("warehouse", op)))._tag).toBe("Left")
        expect(calls).toBe(3)
        yield* TestClock.adjust(Duration.seconds(2))
        // Half-open: one trial; it fails, so the breaker opens again.
        yield* Effect.either(breaker.protect("warehouse", op))
        expect(calls).toBe(4)
        expect(yield* breaker.state("warehouse")).toBe("open")
        yield* TestClock.adjust(Duration.seconds(61))
        healthy = true
        expect(yield* breaker.protect("warehouse", op)).toBe("ok")
        expect(yield* breaker.state("warehouse")).toBe("closed")
        const log = readFileSync(join(dir, "alerts", "slack_notifications.log"), "utf8")
        expect(log).toContain("Circuit breaker OPEN - warehouse")
        expect(log).toContain("Circuit breaker CLOSED - warehouse")
      }))
  })
})

describe("alert throttling", () => {
  const { dir, layer } = layerWith({ ALERT_THROTTLE_MINUTES: "30" })
  it.layer(layer)((it) => {
    it.effect("sends one alert per key within the window and logs every decision", () =>
      Effect.gen(function* () {
        const alerts = yield* Alerts
        const alert = { key: "source_failed_products", severity: "error" as const, title: "ETL Pipeline Partial - products source failed", stage: "Extract products", errorType: "SourceError", message: "products.json: malformed JSON" }
        expect(yield* alerts.send(alert)).toBe("sent")
        yield* TestClock.adjust(Duration.minutes(10))
        expect(yield* alerts.send(alert)).toBe("throttled")
        expect(yield* alerts.send({ ...alert, key: "source_failed_customers" })).toBe("sent")
        yield* TestClock.adjust(Duration.minutes(21))
        expect(yield* alerts.send(alert)).toBe("sent")
        const decisions = readFileSync(join(dir, "alerts", "throttling_decisions.log"), "utf8").trim().split("\n")
        expect(decisions.map((l) => l.split(" | ").slice(1, 3).map((x) => x.trim()))).toEqual([
          ["SENT", "source_failed_products"], ["THROTTLED", "source_failed_products"], ["SENT", "source_failed_customers"], ["SENT", "source_failed_products"]
        ])
        const emails = readFileSync(join(dir, "alerts", "email_alerts.log"), "utf8")
        expect(emails.match(/EMAIL ALERT SIMULATION/g)).toHaveLength(3)
        expect(emails).toContain("Subject: ERROR: ETL Pipeline Partial - products source failed")
        expect(emails).toContain("RECOMMENDED ACTIONS:\n1. Check that the source file exists and is readable")
      }))
  })
})
