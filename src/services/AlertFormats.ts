/**
 * The simulated email and Slack messages, in the layouts of the origin's
 * examples. Pure: an alert and its context in, text out.
 */

export type Severity = "info" | "warning" | "error" | "critical"

export interface Alert {
  /** Throttling key: one window per key (`source_failed_products`, `warehouse_failed`). */
  readonly key: string
  readonly severity: Severity
  readonly title: string
  readonly stage: string
  readonly errorType: string
  readonly message: string
  readonly recordsAffected?: number | undefined
  readonly recordsTotal?: number | undefined
  readonly secondsBeforeFailure?: number | undefined
  readonly recordsPerSecond?: number | undefined
  readonly stackTrace?: string | undefined
  readonly runId?: string | undefined
}

export interface AlertContext {
  readonly timestamp: string
  readonly host: string
  readonly pid: number
  readonly memoryMb: number
  readonly lastSuccessfulRun: string | null
  readonly logFile: string
}

const BANNER_WIDTH = 65
const banner = (title: string) => {
  const side = Math.max(4, Math.floor((BANNER_WIDTH - title.length - 2) / 2))
  return `${"=".repeat(side)} ${title} ${"=".repeat(side)}`
}
const thousands = (n: number) => n.toLocaleString("en-US")

/** Recommended actions chosen by what failed. */
export const recommendedActions = (errorType: string): ReadonlyArray<string> => {
  if (/Warehouse|Database|Sql|Connection/i.test(errorType)) {
    return ["Check database server connectivity", "Verify credentials and firewall settings", "Review connection pool status", "Check system resources (disk, memory)"]
  }
  if (/Source/i.test(errorType)) {
    return ["Check that the source file exists and is readable", "Validate the file against the expected format", "Re-deliver the file and re-run the pipeline"]
  }
  if (/Validation|Quality|Anomaly/i.test(errorType)) {
    return ["Review the failed checks in the run summary", "Inspect etl_rejects for the records involved", "Confirm with the data owners before re-running"]
  }
  if (/Circuit/i.test(errorType)) {
    return ["Wait for the circuit breaker's reset window", "Fix the failing dependency", "Re-run the pipeline"]
  }
  return ["Review the run log", "Re-run the pipeline once the cause is fixed"]
}

export const formatEmail = (a: Alert, c: AlertContext, to: string, from: string): string => {
  const critical = a.severity === "critical" || a.severity === "error"
  const level = a.severity.toUpperCase()
  const lines = [
    banner(critical ? "EMAIL ALERT SIMULATION" : "EMAIL WARNING SIMULATION"),
    `To: ${to}`,
    `From: ${from}`,
    `Subject: ${level}: ${a.title}`,
    `Timestamp: ${c.timestamp}`,
    `Severity: ${level}`,
    "",
    critical ? "ERROR SUMMARY:" : "WARNING SUMMARY:",
    `- Pipeline Stage: ${a.stage}`,
    `- ${critical ? "Error" : "Warning"} Type: ${a.errorType}`,
    ...(a.recordsAffected === undefined ? [] : [`- Records Affected: ${thousands(a.recordsAffected)} records`]),
    ...(a.secondsBeforeFailure === undefined ? [] : [`- Processing Time Before Failure: ${a.secondsBeforeFailure.toFixed(1)} seconds`]),
    ...(a.runId === undefined ? [] : [`- Run: ${a.runId}`]),
    "",
    critical ? "ERROR DETAILS:" : "DETAILS:",
    a.message,
    "",
    "SYSTEM CONTEXT:",
    `- Host: ${c.host}`,
    `- Process ID: ${c.pid}`,
    `- Memory Usage: ${c.memoryMb.toFixed(0)} MB`,
    `- Last Successful Run: ${c.lastSuccessfulRun ?? "none recorded"}`,
    "",
    "RECOMMENDED ACTIONS:",
    ...recommendedActions(a.errorType).map((x, i) => `${i + 1}. ${x}`),
    ...(critical ? ["", "Stack Trace:", a.stackTrace ?? "(no stack trace: the failure was an expected, typed error)"] : []),
    "=".repeat(BANNER_WIDTH)
  ]
  return lines.join("\n") + "\n\n"
}

const EMOJI: Record<Severity, string> = { info: ":white_check_mark:", warning: ":warning:", error: ":rotating_light:", critical: ":fire:" }

const duration = (seconds: number) => {
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds % 60)
  return m === 0 ? `${s} seconds` : `${m} minute${m === 1 ? "" : "s"} ${s} seconds`
}

export const formatSlack = (a: Alert, c: AlertContext, channel: string): string => {
  const processed = a.recordsTotal === undefined || a.recordsAffected === undefined ? undefined : a.recordsTotal - a.recordsAffected
  const successRate = a.recordsTotal ? (100 * (processed ?? 0)) / a.recordsTotal : undefined
  const lines = [
    banner("SLACK NOTIFICATION SIMULATION"),
    `Channel: ${channel}`,
    "Bot Name: ETL Monitor",
    `Timestamp: ${c.timestamp}`,
    `Alert Level: ${a.severity.toUpperCase()}`,
    "",
    `${EMOJI[a.severity]} *${a.title}*`,
    "",
    `*Status:* ${a.severity === "info" ? "SUCCESS" : a.severity === "warning" ? "WARNING" : "FAILED"}`,
    `*Stage:* ${a.stage}`,
    ...(a.secondsBeforeFailure === undefined ? [] : [`*Duration:* ${duration(a.secondsBeforeFailure)}`]),
    ...(processed === undefined ? [] : [`*Records Processed:* ${thousands(processed)} / ${thousands(a.recordsTotal!)}`]),
    "",
    a.severity === "info" ? "*Summary:*" : "*Error Summary:*",
    a.message,
    ...(successRate === undefined ? [] : [
      "",
      "*Quick Stats:*",
      `• Success Rate: ${successRate.toFixed(1)}%`,
      `• Error Rate: ${(100 - successRate).toFixed(1)}%`,
      ...(a.recordsPerSecond === undefined ? [] : [`• Processing Speed: ${a.recordsPerSecond.toFixed(1)} records/sec`])
    ]),
    ...(a.severity === "info" ? [] : ["", "*Actions Required:*", ...recommendedActions(a.errorType).map((x) => `- [ ] ${x}`), "", "<@data-team> <@on-call-engineer>"]),
    "",
    `View logs: \`${c.logFile}\``,
    "=".repeat(BANNER_WIDTH + 17)
  ]
  return lines.join("\n") + "\n\n"
}

/** The Slack incoming-webhook payload: the simulated message without its banner, in mrkdwn. */
export const slackPayload = (a: Alert, c: AlertContext, channel: string) => {
  const lines = formatSlack(a, c, channel).split("\n")
  // Drop the banner, the channel/bot/timestamp header and the closing rule.
  const body = lines.slice(lines.findIndex((l) => l.startsWith("Alert Level:")) + 2).filter((l) => !/^=+$/.test(l))
  return { channel, username: "ETL Monitor", text: body.join("\n").trim(), mrkdwn: true }
}
