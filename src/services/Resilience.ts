/**
 * retry_with_backoff as a Schedule: exponential from RETRY_BASE_DELAY_MS by
 * RETRY_BACKOFF_FACTOR, jittered, at most MAX_RETRIES times, and only for
 * errors typed as transient.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

export interface RetrySettings {
  readonly maxRetries: number
  readonly retryBaseDelayMs: number
  readonly retryBackoffFactor: number
}

export const transientRetry = (s: RetrySettings) =>
  Schedule.exponential(Duration.millis(s.retryBaseDelayMs), s.retryBackoffFactor).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(s.maxRetries))
  )

/**
 * Retries `effect` on the transient schedule while its error says
 * `transient: true`. Each failed attempt is logged with its number; the last
 * one says the retries are spent.
 */
export const retryTransient = (s: RetrySettings, what: string) =>
  <A, E extends { readonly transient: boolean; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const attempts = s.maxRetries + 1
      let attempt = 0
      return Effect.suspend(() => {
        attempt++
        return effect
      }).pipe(
        Effect.tapError((e) =>
          !e.transient
            ? Effect.void
            : attempt < attempts
            ? Effect.logWarning(`${what}: attempt ${attempt} of ${attempts} failed, retrying: ${e.message}`)
            : Effect.logError(`${what}: attempt ${attempt} of ${attempts} failed, no retries left: ${e.message}`)
        ),
        Effect.retry({ schedule: transientRetry(s), while: (e) => e.transient })
      )
    })
