/** Real Slack delivery: an incoming webhook on 127.0.0.1 receives the alert; a broken one is logged, never fatal. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { Alerts } from "../../src/services/Alerts.js"
import { SMTPServer } from "smtp-server"
import { inputs } from "../support/Fixtures.js"
import { httpSink } from "../support/HttpSink.js"

const webhook = (status: number) =>
  Effect.map(httpSink(status), (sink) => ({
    url: `${sink.url}/services/T0/B0/SECRET`,
    received: sink.received as Array<{ readonly path: string; readonly body: Record<string, unknown> }>
  }))

const alert = { key: "source_failed_products", severity: "error" as const, title: "ETL Pipeline Partial - products source failed", stage: "Extract products", errorType: "SourceError", message: "products.json: malformed JSON" }

describe("Slack delivery", () => {
  it.scoped("posts the alert to the incoming webhook and still writes the simulation", () =>
    Effect.gen(function* () {
      const hook = yield* webhook(200)
      const { dir, settings } = inputs({})
      const layer = Layer.fresh(Alerts.Default).pipe(Layer.provideMerge(TestLayer.config({ ...settings, SLACK_WEBHOOK_URL: hook.url, SLACK_CHANNEL: "#etl" })), Layer.provideMerge(NodeContext.layer))
      expect(yield* Effect.provide(Effect.flatMap(Alerts, (a) => a.send(alert)), layer)).toBe("sent")
      expect(hook.received).toHaveLength(1)
      expect(hook.received[0]!.path).toBe("/services/T0/B0/SECRET")
      expect(hook.received[0]!.body).toMatchObject({ channel: "#etl", username: "ETL Monitor" })
      expect(String(hook.received[0]!.body.text)).toContain("*ETL Pipeline Partial - products source failed*")
      expect(readFileSync(join(dir, "alerts", "slack_notifications.log"), "utf8")).toContain("Channel: #etl")
    }))

  it.scopedLive("logs a failing webhook and goes on", () =>
    Effect.gen(function* () {
      const hook = yield* webhook(500)
      const { dir, settings } = inputs({})
      const layer = Layer.fresh(Alerts.Default).pipe(Layer.provideMerge(TestLayer.config({ ...settings, SLACK_WEBHOOK_URL: hook.url })), Layer.provideMerge(NodeContext.layer))
      expect(yield* Effect.provide(Effect.flatMap(Alerts, (a) => a.send(alert)), layer)).toBe("sent")
      expect(hook.received).toHaveLength(3)
      expect(readFileSync(join(dir, "alerts", "slack_notifications.log"), "utf8")).toContain("products source failed")
    }), { timeout: 20_000 })

  it.scopedLive("emails critical and error alerts through SMTP, with authentication", () =>
    Effect.gen(function* () {
      const mails: Array<{ from: string; to: ReadonlyArray<string>; data: string; user: string | undefined }> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<{ port: number; close: () => void }>((resume) => {
          const smtp = new SMTPServer({
            authOptional: true,
            disabledCommands: ["STARTTLS"],
            onAuth: (auth, _session, cb) => cb(null, { user: auth.username }),
            onData: (stream, session, cb) => {
              let data = ""
              stream.on("data", (c: Buffer) => (data += c.toString()))
              stream.on("end", () => {
                mails.push({ from: String((session.envelope.mailFrom as { address: string }).address), to: session.envelope.rcptTo.map((r) => r.address), data, user: session.user as string | undefined })
                cb()
              })
            }
          })
          smtp.listen(0, "127.0.0.1", () => resume(Effect.succeed({ port: (smtp.server.address() as AddressInfo).port, close: () => void smtp.close() })))
        }),
        (s) => Effect.sync(s.close)
      )
      const { settings } = inputs({})
      const layer = Layer.fresh(Alerts.Default).pipe(
        Layer.provideMerge(TestLayer.config({
          ...settings, SMTP_HOST: "127.0.0.1", SMTP_PORT: String(server.port), SMTP_USER: "etl", SMTP_PASSWORD: "pw",
          ALERT_EMAIL_TO: "data-team@company.com, on-call@company.com"
        })),
        Layer.provideMerge(NodeContext.layer)
      )
      yield* Effect.provide(Effect.flatMap(Alerts, (a) => Effect.zipRight(a.send(alert), a.send({ ...alert, key: "w", severity: "warning" }))), layer)
      expect(mails).toHaveLength(1)
      expect(mails[0]).toMatchObject({ from: "etl-alerts@company.com", to: ["data-team@company.com", "on-call@company.com"], user: "etl" })
      expect(mails[0]!.data).toContain("Subject: ERROR: ETL Pipeline Partial - products source failed")
      expect(mails[0]!.data).toContain("RECOMMENDED ACTIONS:")
    }))
})
