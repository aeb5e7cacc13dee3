/**
 * Where settings come from, first match wins: the process environment, then
 * `.env.<env>`, then `.env`, then the defaults in AppConfig.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"

/** `KEY=value` lines; `#` comments, `export `, single or double quotes. */
export const parseDotenv = (text: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (m === null) continue
    let value = m[2]!
    const quoted = /^(["'])(.*)\1$/.exec(value)
    if (quoted !== null) value = quoted[1] === '"' ? quoted[2]!.replace(/\\n/g, "\n") : quoted[2]!
    else value = value.replace(/\s+#.*$/, "")
    out.set(m[1]!, value)
  }
  return out
}

const readDotenv = (path: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return new Map<string, string>()
    return parseDotenv(yield* fs.readFileString(path).pipe(Effect.orElseSucceed(() => "")))
  })

/**
 * The provider for `etl --env <env>`: `ETL_ENV` is the chosen environment,
 * then the process environment, `.env.<env>` and `.env`.
 */
export const forEnvironment = (env: string, base: ConfigProvider.ConfigProvider = ConfigProvider.fromEnv()) =>
  Effect.gen(function* () {
    const specific = yield* readDotenv(`.env.${env}`)
    const shared = yield* readDotenv(".env")
    return ConfigProvider.fromMap(new Map([["ETL_ENV", env]])).pipe(
      ConfigProvider.orElse(() => base),
      ConfigProvider.orElse(() => ConfigProvider.fromMap(specific)),
      ConfigProvider.orElse(() => ConfigProvider.fromMap(shared))
    )
  })
