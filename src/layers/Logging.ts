/**
 * The run's loggers: the console at INFO and above (coloured on a terminal),
 * `LOG_DIR/etl.log` at DEBUG and above as JSON lines, `LOG_DIR/etl-error.log`
 * at ERROR and above; both files rotated by size. Every line carries the
 * annotations in scope (run id, env, stage).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { stderr } from "node:process"
import { AppConfig } from "../services/AppConfig.js"
import { makeRotatingFile } from "../services/RotatingFile.js"

const COLOURS: Record<string, string> = { FATAL: "\x1b[35m", ERROR: "\x1b[31m", WARN: "\x1b[33m", INFO: "\x1b[36m", DEBUG: "\x1b[90m" }

const messageText = (message: unknown): string =>
  Array.isArray(message) ? message.map(messageText).join(" ") : typeof message === "string" ? message : JSON.stringify(message)

const consoleLogger = (colour: boolean, minimum: LogLevel.LogLevel) =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    if (!LogLevel.greaterThanEqual(logLevel, minimum)) return
    const level = logLevel.label
    const stage = HashMap.get(annotations, "stage")
    const time = date.toISOString().slice(11, 19)
    const tag = colour ? `${COLOURS[level] ?? ""}${level.padEnd(5)}\x1b[0m` : level.padEnd(5)
    const where = stage._tag === "Some" ? ` [${String(stage.value)}]` : ""
    const why = Cause.isEmpty(cause) ? "" : `: ${Cause.pretty(cause, { renderErrorCause: false }).split("\n")[0]}`
    // On a terminal the progress line may be showing: clear it, it is redrawn after.
    stderr.write(`${colour ? "\r\x1b[2K" : ""}${time} ${tag}${where} ${messageText(message)}${why}\n`)
  })

const jsonLine = (options: Logger.Logger.Options<unknown>): string => {
  const annotations: Record<string, unknown> = {}
  for (const [k, v] of options.annotations) annotations[k] = v
  return JSON.stringify({
    timestamp: options.date.toISOString(),
    level: options.logLevel.label,
    message: messageText(options.message),
    ...annotations,
    spans: List.toArray(options.spans).map((s) => s.label),
    fiber: FiberId.threadName(options.fiberId),
    ...(Cause.isEmpty(options.cause) ? {} : { cause: Cause.pretty(options.cause) })
  })
}

/** Replaces the default logger with the console and the two rotated files. */
export const layer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const { logging } = yield* AppConfig
    const report = (message: string) => void stderr.write(`WARN  ${message}\n`)
    const runLog = makeRotatingFile(`${logging.logDir}/etl.log`, logging.maxFileBytes, logging.maxFiles, report)
    const errorLog = makeRotatingFile(`${logging.logDir}/etl-error.log`, logging.maxFileBytes, logging.maxFiles, report)
    const files = Logger.make<unknown, void>((options) => {
      const line = jsonLine(options)
      runLog.write(line)
      if (LogLevel.greaterThanEqual(options.logLevel, LogLevel.Error)) errorLog.write(line)
    })
    const level = LogLevel.fromLiteral(
      ({ trace: "Trace", debug: "Debug", info: "Info", warning: "Warning", error: "Error", fatal: "Fatal" } as const)[logging.level]
    )
    // The file takes DEBUG even when the console shows INFO and above.
    const minimum = LogLevel.lessThan(level, LogLevel.Debug) ? level : LogLevel.Debug
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, Logger.zip(consoleLogger(stderr.isTTY === true, LogLevel.greaterThan(level, LogLevel.Info) ? level : LogLevel.Info), files)),
      Logger.minimumLogLevel(minimum)
    )
  })
)
