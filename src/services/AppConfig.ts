/**
 * Every setting of contract.md, read once through `Config` and validated at
 * start-up. The origin's four categories (database, files, logging, alerts)
 * plus processing. An invalid value fails with a `ConfigError` whose path is
 * the variable's name and whose message says what it accepts.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import * as Money from "../rules/Money.js"

export type DatabaseKind = "sqlite" | "postgres" | "mssql"

export interface DatabaseTarget {
  readonly kind: DatabaseKind
  /** The full URL, secret because it may carry a password. */
  readonly url: Redacted.Redacted<string>
  /** What may be shown: the URL with its password masked. */
  readonly display: string
  /** For sqlite: the file name or `:memory:`. */
  readonly filename: string
}

const maskPassword = (url: string): string => url.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, "$1:***@")

/** Parses a warehouse or source URL; the message names what is accepted. */
export const parseDatabaseUrl = (url: string): Either.Either<DatabaseTarget, string> => {
  const accepted = "expected sqlite:PATH, sqlite::memory:, postgres://user:pass@host:port/db or mssql://user:pass@host:port/db"
  if (url.startsWith("sqlite:")) {
    const filename = url.slice("sqlite:".length)
    if (filename.length === 0) return Either.left(`${accepted}; the sqlite path is empty`)
    return Either.right({ kind: "sqlite", url: Redacted.make(url), display: url, filename })
  }
  const m = /^(postgres|postgresql|mssql|sqlserver):\/\/(.+)$/i.exec(url)
  if (m === null) return Either.left(accepted)
  try {
    const parsed = new URL(url)
    if (parsed.hostname.length === 0) return Either.left(`${accepted}; the host is missing`)
    if (parsed.port !== "" && !(Number(parsed.port) > 0 && Number(parsed.port) < 65536)) {
      return Either.left(`${accepted}; the port is not a number from 1 to 65535`)
    }
  } catch {
    return Either.left(accepted)
  }
  const scheme = m[1]!.toLowerCase()
  const kind: DatabaseKind = scheme.startsWith("postgres") ? "postgres" : "mssql"
  return Either.right({ kind, url: Redacted.make(url), display: maskPassword(url), filename: "" })
}

/** Parses CLUSTER_DATABASE_URL: partitioned runs keep the cluster's state in PostgreSQL only. */
export const parseClusterUrl = (url: string): Either.Either<DatabaseTarget, string> =>
  Either.flatMap(parseDatabaseUrl(url), (target) =>
    target.kind === "postgres"
      ? Either.right(target)
      : Either.left(`expected postgres://user:pass@host:port/db: cluster storage needs PostgreSQL (SQLite's cannot be shared across processes), got ${target.display}`))

// ---- small readers that name the variable in every failure ------------------

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], message)

const parsed = <A>(name: string, fallback: string, parse: (text: string) => Either.Either<A, string>) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => Either.mapLeft(parse(text.trim()), (message) => invalid(name, `${message}, got '${text}'`)))
  )

const integer = (name: string, fallback: number, min: number) =>
  parsed(name, String(fallback), (t) =>
    /^[+-]?\d+$/.test(t) && Number(t) >= min && Number.isSafeInteger(Number(t))
      ? Either.right(Number(t))
      : Either.left(`expected a whole number ≥ ${min}`))

const number = (name: string, fallback: number, min: number) =>
  parsed(name, String(fallback), (t) =>
    /^[+-]?(\d+\.?\d*|\.\d+)$/.test(t) && Number(t) >= min ? Either.right(Number(t)) : Either.left(`expected a number ≥ ${min}`))

const fraction = (name: string, fallback: number) =>
  parsed(name, String(fallback), (t) =>
    /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(t) ? Either.right(Number(t)) : Either.left("expected a fraction from 0 to 1, such as 0.05"))

const optionalText = (name: string) =>
  Config.string(name).pipe(Config.option, Config.map(Option.flatMap((s) => (s.trim() === "" ? Option.none() : Option.some(s.trim())))))

/** An optional http(s) URL that is not a secret. */
const optionalHttpUrl = (name: string, example: string) =>
  optionalText(name).pipe(
    Config.mapOrFail((o) =>
      Option.isSome(o) && !/^https?:\/\/[^/\s]+/.test(o.value)
        ? Either.left(invalid(name, `expected an http(s) URL such as ${example}, got '${o.value}'`))
        : Either.right(o))
  )

const optionalSecret = (name: string) =>
  Config.redacted(name).pipe(
    Config.option,
    Config.map(Option.filter((r) => Redacted.value(r).trim() !== ""))
  )

const text = (name: string, fallback: string) => Config.string(name).pipe(Config.withDefault(fallback))

const decimalRate = (name: string, fallback: string) =>
  parsed(name, fallback, (t) => {
    const d = Money.parseDecimal(t)
    return d !== undefined && !Money.isNegative(d) && Money.compare(d, { units: 1n, scale: 0 }) <= 0 && /^[\d.]+$/.test(t)
      ? Either.right(d)
      : Either.left("expected a decimal fraction from 0 to 1, such as 0.03")
  })

// ---- the warehouse: DATABASE_URL, or the origin's DB_SERVER settings ----------

const database = Config.all({
  url: optionalText("DATABASE_URL"),
  server: optionalText("DB_SERVER"),
  port: optionalText("DB_PORT"),
  name: optionalText("DB_NAME"),
  user: optionalText("DB_USER"),
  password: optionalSecret("DB_PASSWORD")
}).pipe(
  Config.mapOrFail((s): Either.Either<DatabaseTarget, ConfigError.ConfigError> => {
    if (Option.isSome(s.url)) {
      const url = s.url.value
      return Either.mapLeft(parseDatabaseUrl(url), (m) => invalid("DATABASE_URL", `${m}, got '${maskPassword(url)}'`))
    }
    if (Option.isNone(s.server)) return Either.right(parseDatabaseUrl("sqlite:data/warehouse.db").pipe(Either.getOrThrow))
    const port = Option.getOrElse(s.port, () => "1433")
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      return Either.left(invalid("DB_PORT", `expected a port number from 1 to 65535, got '${port}'`))
    }
    if (Option.isNone(s.name)) return Either.left(invalid("DB_NAME", "expected a database name when DB_SERVER is set"))
    const user = encodeURIComponent(Option.getOrElse(s.user, () => ""))
    const password = Option.match(s.password, { onNone: () => "", onSome: (p) => ":" + encodeURIComponent(Redacted.value(p)) })
    const url = `mssql://${user}${password}@${s.server.value}:${port}/${encodeURIComponent(s.name.value)}`
    return Either.mapLeft(parseDatabaseUrl(url), (m) => invalid("DB_SERVER", m))
  })
)

const sourceDatabase = optionalText("SOURCE_DATABASE_URL").pipe(
  Config.mapOrFail((o) =>
    Option.match(o, {
      onNone: () => Either.right(Option.none<DatabaseTarget>()),
      onSome: (url) =>
        Either.map(
          Either.mapLeft(parseDatabaseUrl(url), (m) => invalid("SOURCE_DATABASE_URL", `${m}, got '${maskPassword(url)}'`)),
          Option.some
        )
    })
  )
)

const logLevels = ["trace", "debug", "info", "warning", "error", "fatal"] as const

export const appConfig = Effect.gen(function* () {
  const env = yield* text("ETL_ENV", "dev")
  const inputDir = yield* text("INPUT_DIR", "data/input")
  const inDir = (file: string) => `${inputDir.replace(/\/+$/, "")}/${file}`
  return {
    env,
    database: yield* database,
    files: {
      inputDir,
      customersFile: yield* text("CUSTOMERS_FILE", inDir("customers.csv")),
      productsFile: yield* text("PRODUCTS_FILE", inDir("products.json")),
      salesFile: yield* text("SALES_FILE", inDir("sales_transactions.csv")),
      sourceDatabase: yield* sourceDatabase,
      outputDir: yield* text("OUTPUT_DIR", "data/output"),
      backupKeep: yield* integer("BACKUP_KEEP", 3, 1)
    },
    logging: {
      logDir: yield* text("LOG_DIR", "logs"),
      level: yield* parsed("LOG_LEVEL", "info", (t) =>
        (logLevels as ReadonlyArray<string>).includes(t.toLowerCase())
          ? Either.right(t.toLowerCase() as (typeof logLevels)[number])
          : Either.left(`expected one of ${logLevels.join(", ")}`)),
      maxFileBytes: yield* integer("LOG_MAX_BYTES", 5 * 1024 * 1024, 1024),
      maxFiles: yield* integer("LOG_MAX_FILES", 5, 1),
      env,
      otelEndpoint: yield* optionalHttpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    },
    alerts: {
      alertsDir: yield* text("ALERTS_DIR", "alerts"),
      throttleMinutes: yield* number("ALERT_THROTTLE_MINUTES", 30, 0),
      smtpHost: yield* optionalText("SMTP_HOST"),
      smtpPort: yield* integer("SMTP_PORT", 587, 1),
      smtpUser: yield* optionalText("SMTP_USER"),
      smtpPassword: yield* optionalSecret("SMTP_PASSWORD"),
      emailFrom: yield* text("ALERT_EMAIL_FROM", "etl-alerts@company.com"),
      emailTo: yield* text("ALERT_EMAIL_TO", "data-team@company.com, on-call@company.com"),
      slackWebhookUrl: yield* optionalSecret("SLACK_WEBHOOK_URL"),
      slackChannel: yield* text("SLACK_CHANNEL", "#data-alerts"),
      slackWarningChannel: yield* text("SLACK_WARNING_CHANNEL", "#data-quality")
    },
    processing: {
      batchSize: yield* integer("BATCH_SIZE", 5000, 1),
      maxRetries: yield* integer("MAX_RETRIES", 3, 0),
      retryBaseDelayMs: yield* integer("RETRY_BASE_DELAY_MS", 200, 0),
      retryBackoffFactor: yield* number("RETRY_BACKOFF_FACTOR", 2.0, 1),
      circuitBreakerThreshold: yield* integer("CIRCUIT_BREAKER_THRESHOLD", 5, 1),
      circuitBreakerResetSeconds: yield* number("CIRCUIT_BREAKER_RESET_SECONDS", 60, 0),
      commissionRate: yield* decimalRate("COMMISSION_RATE", "0.03"),
      lookbackDays: yield* integer("INCREMENTAL_LOOKBACK_DAYS", 0, 0),
      sourceQueryTimeoutSeconds: yield* integer("SOURCE_QUERY_TIMEOUT_SECONDS", 300, 1),
      // `on`: the sales CSV is read and put through the rules on a second thread (see ReadThread).
      readThread: yield* parsed("READ_THREAD", "off", (t) =>
        ["on", "off"].includes(t.toLowerCase())
          ? Either.right(t.toLowerCase() as "on" | "off")
          : Either.left("expected on or off")),
      // A first load of the sales CSV into a SQLite file read by two threads (see SplitRead): `auto`
      // when the file is large enough for it to pay, `on` whatever its size, `off` never.
      splitRead: yield* parsed("SPLIT_READ", "auto", (t) =>
        ["auto", "on", "off"].includes(t.toLowerCase())
          ? Either.right(t.toLowerCase() as "auto" | "on" | "off")
          : Either.left("expected auto, on or off"))
    },
    lineageUrl: yield* optionalHttpUrl("OPENLINEAGE_URL", "http://localhost:5000"),
    quality: {
      completenessWarn: yield* fraction("QUALITY_COMPLETENESS_WARN", 0.05),
      completenessError: yield* fraction("QUALITY_COMPLETENESS_ERROR", 0.2),
      errorRateWarn: yield* fraction("QUALITY_ERROR_RATE_WARN", 0.05),
      errorRateError: yield* fraction("QUALITY_ERROR_RATE_ERROR", 0.2),
      referentialWarn: yield* fraction("QUALITY_REFERENTIAL_WARN", 0.01),
      referentialError: yield* fraction("QUALITY_REFERENTIAL_ERROR", 0.1),
      freshnessWarnDays: yield* integer("FRESHNESS_WARN_DAYS", 2, 0),
      freshnessErrorDays: yield* integer("FRESHNESS_ERROR_DAYS", 7, 0),
      anomalyMinHistory: yield* integer("ANOMALY_MIN_HISTORY", 5, 2),
      anomalyHistory: yield* integer("ANOMALY_HISTORY", 20, 2),
      anomalyStddevs: yield* number("ANOMALY_STDDEVS", 3, 0.5)
    }
  }
})

export type AppConfigShape = Effect.Effect.Success<typeof appConfig>

/** The validated configuration of one run. */
export class AppConfig extends Effect.Service<AppConfig>()("etl/AppConfig", {
  effect: appConfig
}) {}

/**
 * The non-secret configuration a run used, and its fingerprint: the same
 * settings give the same fingerprint, so a change between two runs shows in
 * their summaries. Secrets are left out, not hashed.
 */
export const configFingerprint = (config: AppConfigShape) => {
  const settings = {
    env: config.env,
    database: config.database.display.replace(/:\*\*\*@/, "@"),
    files: { ...config.files, sourceDatabase: Option.getOrNull(Option.map(config.files.sourceDatabase, (d) => d.display.replace(/:\*\*\*@/, "@"))) },
    logging: { ...config.logging, otelEndpoint: Option.getOrNull(config.logging.otelEndpoint) },
    alerts: {
      alertsDir: config.alerts.alertsDir, throttleMinutes: config.alerts.throttleMinutes, emailTo: config.alerts.emailTo,
      emailFrom: config.alerts.emailFrom, slackChannel: config.alerts.slackChannel, slackWarningChannel: config.alerts.slackWarningChannel,
      smtp: Option.isSome(config.alerts.smtpHost), slackWebhook: Option.isSome(config.alerts.slackWebhookUrl)
    },
    processing: { ...config.processing, commissionRate: Money.formatDecimal(config.processing.commissionRate) },
    quality: config.quality
  }
  const fingerprint = createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16)
  return { fingerprint, settings }
}

/** One line for the user: the variable and what it accepts. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const lines = ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    orCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    invalidDataCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    missingDataCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    sourceUnavailableCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    unsupportedCase: (_, path, message) => [`${path.join(".")}: ${message}`]
  })
  return `Invalid configuration: ${[...new Set(lines)].join("; ")}`
}
