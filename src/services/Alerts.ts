/**
 * simulate_email_alert, simulate_slack_notification and AlertThrottler.
 * Critical and error alerts go to email and Slack, warnings and successes to
 * Slack only. One throttle window per alert key, its state kept in
 * `ALERTS_DIR/throttle_state.json` so that a cron-started process remembers
 * the last one; every send-or-throttle decision goes to
 * `throttling_decisions.log`. Writing an alert can fail (a read-only folder):
 * that is logged, never a reason to fail the run.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { hostname } from "node:os"
import { memoryUsage, pid } from "node:process"
import { AppConfig } from "./AppConfig.js"
import { formatEmail, formatSlack, slackPayload, type Alert, type AlertContext } from "./AlertFormats.js"
import { makeDirectories } from "./Directories.js"

export type { Alert, Severity } from "./AlertFormats.js"

const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19)

export type Decision = "sent" | "throttled"

export class Alerts extends Effect.Service<Alerts>()("etl/Alerts", {
  dependencies: [FetchHttpClient.layer],
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const fs = yield* FileSystem.FileSystem
    const http = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)

    /** Real email through SMTP, when SMTP_HOST is set: the simulated text as the body, 10 s timeout. */
    const deliverEmail = (subject: string, text: string) =>
      Option.match(config.alerts.smtpHost, {
        onNone: () => Effect.void,
        onSome: (host) =>
          Effect.tryPromise({
            // Loaded only when SMTP is configured: most runs never need it.
            try: () => import("nodemailer").then(({ createTransport }) => createTransport({
                host,
                port: config.alerts.smtpPort,
                secure: config.alerts.smtpPort === 465,
                connectionTimeout: 10_000,
                greetingTimeout: 10_000,
                ...(Option.isSome(config.alerts.smtpUser)
                  ? { auth: { user: config.alerts.smtpUser.value, pass: Option.match(config.alerts.smtpPassword, { onNone: () => "", onSome: Redacted.value }) } }
                  : {})
              }).sendMail({ from: config.alerts.emailFrom, to: config.alerts.emailTo, subject, text })),
            // The password never reaches the message: only the server's own words.
            catch: (e) => (e instanceof Error ? e.message.replace(/pass(word)?[^,;]*/gi, "pass***") : "unknown error")
          }).pipe(
            Effect.zipRight(Effect.logDebug(`alert emailed through ${host}:${config.alerts.smtpPort}`)),
            Effect.catchAll((message) => Effect.logError(`could not email the alert through ${host}:${config.alerts.smtpPort}: ${message}`))
          )
      })

    /** Real delivery to the Slack incoming webhook, when configured: 5 s timeout, two retries. */
    const deliverSlack = (payload: ReturnType<typeof slackPayload>) =>
      Option.match(config.alerts.slackWebhookUrl, {
        onNone: () => Effect.void,
        onSome: (url) =>
          HttpClientRequest.post(Redacted.value(url)).pipe(
            HttpClientRequest.bodyUnsafeJson(payload),
            http.execute,
            Effect.scoped,
            Effect.timeout(Duration.seconds(5)),
            Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(2)))),
            Effect.zipRight(Effect.logDebug("alert delivered to the Slack webhook")),
            // The URL is a secret: the error names only what failed.
            Effect.catchAll((e) => Effect.logError(`could not deliver the alert to the Slack webhook: ${e._tag}`))
          )
      })
    const dir = config.alerts.alertsDir.replace(/\/+$/, "")
    const windowMs = config.alerts.throttleMinutes * 60_000
    const statePath = `${dir}/throttle_state.json`

    const append = (file: string, text: string) =>
      makeDirectories(fs, dir).pipe(Effect.zipRight(fs.writeFileString(`${dir}/${file}`, text, { flag: "a" })))

    const readState = fs.readFileString(statePath).pipe(
      Effect.map((text) => JSON.parse(text) as Record<string, number>),
      Effect.orElseSucceed(() => ({}) as Record<string, number>)
    )

    /** should_send_alert + log_alert_decision: one window per key, kept across runs. */
    const decide = (key: string, now: number) =>
      Effect.gen(function* () {
        const state = yield* readState
        const last = state[key]
        const throttled = last !== undefined && now - last < windowMs
        const reason = last === undefined
          ? "first alert of this key"
          : throttled
          ? `last sent ${((now - last) / 60_000).toFixed(1)} min ago, inside the ${config.alerts.throttleMinutes} min window`
          : `last sent ${((now - last) / 60_000).toFixed(1)} min ago, outside the ${config.alerts.throttleMinutes} min window`
        if (!throttled) {
          state[key] = now
          yield* makeDirectories(fs, dir)
          yield* fs.writeFileString(statePath, JSON.stringify(state, null, 2) + "\n")
        }
        const decision: Decision = throttled ? "throttled" : "sent"
        yield* append("throttling_decisions.log", `${stamp(now)} | ${decision.toUpperCase().padEnd(9)} | ${key} | ${reason}\n`)
        return decision
      })

    const send = Effect.fn("Alerts.send")(function* (alert: Alert, lastSuccessfulRun: string | null = null) {
      const now = yield* Clock.currentTimeMillis
      const decision = yield* decide(alert.key, now)
      if (decision === "throttled") {
        yield* Effect.logInfo(`alert ${alert.key} throttled (sent within the last ${config.alerts.throttleMinutes} min)`)
        return decision
      }
      const context: AlertContext = {
        timestamp: stamp(now),
        host: hostname(),
        pid,
        memoryMb: memoryUsage.rss() / 1024 / 1024,
        lastSuccessfulRun,
        logFile: `${config.logging.logDir}/etl.log`
      }
      if (alert.severity === "critical" || alert.severity === "error") {
        const email = formatEmail(alert, context, config.alerts.emailTo, config.alerts.emailFrom)
        yield* append("email_alerts.log", email)
        yield* deliverEmail(`${alert.severity.toUpperCase()}: ${alert.title}`, email)
      }
      const channel = alert.severity === "warning" || alert.severity === "info" ? config.alerts.slackWarningChannel : config.alerts.slackChannel
      yield* append("slack_notifications.log", formatSlack(alert, context, channel))
      yield* deliverSlack(slackPayload(alert, context, channel))
      yield* Effect.logInfo(`alert sent: ${alert.severity} ${alert.key} (${alert.title})`)
      return decision
    }, (effect, alert) =>
      Effect.catchAll(effect, (e) =>
        Effect.logError(`could not write alert ${alert.key} to ${dir}: ${e.message}`).pipe(Effect.as("throttled" as Decision))))

    return { send }
  })
}) {}
