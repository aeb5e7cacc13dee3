/** The `etl` binary as a user runs it: exit codes and the one line they read. */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { inputs } from "./support/Fixtures.js"

const root = join(import.meta.dirname, "..")
const etl = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd = root) => {
  const r = spawnSync(process.execPath, [join(root, "bin/etl.js"), ...args], {
    cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("etl", () => {
  const { dir, settings } = inputs({})
  const env = { ...settings, INPUT_DIR: join(root, "data/input"), DATABASE_URL: `sqlite:${join(dir, "warehouse.db")}` }

  it.each([
    ["BATCH_SIZE", "abc"], ["DATABASE_URL", "not-a-url"], ["MAX_RETRIES", "-1"], ["COMMISSION_RATE", "3%"]
  ])("exits 2 naming %s=%s", (name, value) => {
    const r = etl(["run"], { ...env, [name]: value })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toContain(`${name}:`)
  })

  it.each([
    [["run", "--date", "2024-02-30"], "--date expects a calendar date"],
    [["run", "--env", "staging"], "dev, test, prod"],
    [["run", "--from", "2024-03-05", "--to", "2024-03-01"], "is after --to"],
    [["run", "--full-refresh", "--date", "2024-03-01"], "cannot be combined"],
    [["run", "--partition-by", "day", "--full-refresh"], "--partition-by day cannot be combined with --full-refresh"],
    [["run", "--partition-by", "day", "--from", "2024-03-01", "--to", "2024-03-02"], "CLUSTER_DATABASE_URL: partitioned runs keep their state in PostgreSQL"],
    [["frobnicate"], "Invalid subcommand"]
  ])("exits 2 on bad usage %j", (args, message) => {
    const r = etl(args, env)
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain(message)
    expect(r.stdout + r.stderr).not.toMatch(/"_tag"|at .*\.ts:\d+/)
  })

  it("prints help and version", () => {
    expect(etl(["--version"]).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    const help = etl(["run", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--full-refresh")
  })

  it("runs the sample into a SQLite file and migrates idempotently", () => {
    const r = etl(["run"], env)
    expect(r.code).toBe(0)
    // Not a terminal: no progress redraws, no colour codes.
    expect(r.stderr).not.toMatch(/\r|\x1b\[/)
    expect(r.stdout).toMatch(/Run \S+: SUCCESS/)
    expect(readdirSync(join(dir, "output")).some((f) => /^run_.*\.json$/.test(f))).toBe(true)
    expect(existsSync(join(dir, "logs", "etl.log"))).toBe(true)
    const again = etl(["migrate"], env)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain("up to date")
  })

  it("with the warehouse unreachable: retries as configured, opens the breaker, exits 1 and says why in a sentence", () => {
    const out = join(dir, "unreachable")
    const down = {
      ...env, DATABASE_URL: "postgres://etl:hunter2@127.0.0.1:1/dw", RETRY_BASE_DELAY_MS: "5",
      OUTPUT_DIR: join(out, "output"), LOG_DIR: join(out, "logs"), ALERTS_DIR: join(out, "alerts")
    }
    const first = etl(["run"], down)
    expect(first.code).toBe(1)
    const line = first.stderr.trim().split("\n").at(-1)!
    expect(line).toMatch(/^etl: .*127\.0\.0\.1:1\/dw could not be reached in 4 attempts \(connect ECONNREFUSED.*\); the circuit breaker for warehouse is open until \S+: runs before then stop at once$/)
    const log = readFileSync(join(out, "logs", "etl.log"), "utf8")
    expect(log.match(/attempt \d of 4 failed/g)).toHaveLength(4)
    expect(log).toContain("circuit breaker for warehouse: closed → open")
    expect(log).toContain("the run stopped before reading any source")
    const state = JSON.parse(readFileSync(join(out, "output", "circuit_state.json"), "utf8")) as Record<string, { state: string }>
    expect(state.warehouse!.state).toBe("open")
    const alerts = readFileSync(join(out, "alerts", "email_alerts.log"), "utf8")
    expect(alerts).toContain("Circuit breaker OPEN - warehouse")
    expect(alerts).toContain("ETL Pipeline Failed - warehouse unreachable")
    // The next run, within CIRCUIT_BREAKER_RESET_SECONDS, does not call the warehouse at all.
    const second = etl(["run"], down)
    expect(second.code).toBe(1)
    expect(second.stderr).toContain("calls fail fast until")
    expect(readFileSync(join(out, "logs", "etl.log"), "utf8").match(/attempt \d of 4 failed/g)).toHaveLength(4)
    expect(first.stderr + second.stderr + log + alerts).not.toContain("hunter2")
    // The open breaker belongs to that database: another warehouse is called as usual.
    expect(etl(["run"], { ...down, DATABASE_URL: `sqlite:${join(out, "other.db")}` }).code).toBe(0)
  })

  // Node's recursive mkdir loops for ever under /proc (services/Directories): these hung, LOG_DIR deaf even to SIGTERM.
  it.skipIf(!existsSync("/proc/self"))("ends with the reason when a folder it must make cannot be made (/proc)", () => {
    const out = join(dir, "proc")
    const base = { ...env, OUTPUT_DIR: join(out, "output"), LOG_DIR: join(out, "logs"), ALERTS_DIR: join(out, "alerts") }
    const db = etl(["run"], { ...base, DATABASE_URL: "sqlite:/proc/etl-test/warehouse.db" })
    expect(db.code).toBe(1)
    expect(db.stderr.trim().split("\n").at(-1)).toBe("etl: warehouse connect failed: cannot open sqlite:/proc/etl-test/warehouse.db: Cannot open database because the directory does not exist")
    const output = etl(["run"], { ...base, OUTPUT_DIR: "/proc/etl-test/output" })
    expect(output.code).toBe(1)
    expect(output.stderr).toContain("etl: cannot write /proc/etl-test/output: OUTPUT_DIR is not writable (NotFound: FileSystem.makeDirectory (/proc/etl-test): ENOENT")
    const logs = etl(["run"], { ...base, LOG_DIR: "/proc/etl-test/logs", ALERTS_DIR: "/proc/etl-test/alerts" })
    expect(logs.code).toBe(0)
    expect(logs.stdout + logs.stderr).toContain("cannot write log file /proc/etl-test/logs/etl.log")
    expect(logs.stdout + logs.stderr).toContain("could not write alert run_success to /proc/etl-test/alerts")
  })

  it("reports every component healthy, then names the broken ones", () => {
    const ok = etl(["health"], env)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^OK +warehouse/m)
    expect(ok.stdout).toMatch(/^OK +cluster storage +not configured: runs are single-process/m)
    const broken = etl(["health", "--json"], {
      ...env, DATABASE_URL: "postgres://etl:hunter2@127.0.0.1:1/dw", OUTPUT_DIR: "/etc/hostname/sub",
      CLUSTER_DATABASE_URL: "postgres://etl:hunter2@127.0.0.1:1/cluster"
    })
    expect(broken.code).toBe(1)
    const report = JSON.parse(broken.stdout) as { healthy: boolean; components: Array<{ component: string; healthy: boolean }> }
    expect(report.healthy).toBe(false)
    expect(report.components.filter((c) => !c.healthy).map((c) => c.component)).toEqual(["warehouse", "cluster storage", "output folder"])
    expect(broken.stdout + broken.stderr).not.toContain("hunter2")
  })
})
