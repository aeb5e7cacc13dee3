/**
 * `etl report`: the origin's performance dashboard data (execution history,
 * processing metrics, error analysis, data-quality trends) as figures, and as
 * one self-contained HTML page with inline SVG: no CDN, works offline, reads
 * on a laptop and a phone.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { Warehouse, type RejectGroup } from "../services/Warehouse.js"
import type { RunSummary } from "./Report.js"

export interface RunPoint {
  readonly run_id: string
  readonly status: string
  readonly mode: string
  readonly started_at: string
  readonly duration_seconds: number | null
  readonly records_read: number | null
  readonly rows_per_second: number | null
  readonly error_rate: number | null
  readonly quality: Readonly<Record<string, string>>
  readonly anomalies: ReadonlyArray<string>
}

export interface DashboardFigures {
  readonly generated_at: string
  readonly runs: ReadonlyArray<RunPoint>
  readonly rejects: ReadonlyArray<RejectGroup>
  readonly latest: RunSummary | null
}

const parse = (json: string | null): Partial<RunSummary> => {
  try {
    return json === null ? {} : (JSON.parse(json) as Partial<RunSummary>)
  } catch {
    return {}
  }
}

export const dashboardFigures = (limit = 60) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const history = yield* warehouse.runHistory(limit)
    const rejects = yield* warehouse.rejectSummary
    const runs = history.map((h): RunPoint => {
      const s = parse(h.summary)
      return {
        run_id: h.runId, status: h.status, mode: h.mode, started_at: h.startedAt, duration_seconds: h.durationSeconds,
        records_read: h.recordsRead,
        rows_per_second: h.recordsRead !== null && h.durationSeconds ? h.recordsRead / h.durationSeconds : null,
        error_rate: h.errorRate,
        quality: Object.fromEntries((s.quality ?? []).map((q) => [q.check, q.level])),
        anomalies: (s.anomalies ?? []).map((a) => a.message)
      }
    })
    const last = history[history.length - 1]
    return {
      generated_at: new Date(yield* Clock.currentTimeMillis).toISOString(),
      runs,
      rejects,
      latest: last?.summary ? (parse(last.summary) as RunSummary) : null
    } satisfies DashboardFigures
  })

const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!)
const COLOURS: Record<string, string> = { success: "#2e7d32", partial: "#f9a825", failed: "#c62828", interrupted: "#757575", running: "#1565c0" }

/** A line chart of one series, one circle per run (class `point`), anomalous runs ringed. */
const lineChart = (title: string, runs: ReadonlyArray<RunPoint>, value: (r: RunPoint) => number | null, unit: string) => {
  const W = 600, H = 180, P = 30
  const values = runs.map(value)
  const max = Math.max(1, ...values.map((v) => v ?? 0))
  const x = (i: number) => P + (runs.length <= 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (runs.length - 1))
  const y = (v: number) => H - P - (v / max) * (H - 2 * P)
  const pts = values.flatMap((v, i) => (v === null ? [] : [[x(i), y(v)] as const]))
  return `<figure class="chart" data-chart="${esc(title)}"><figcaption>${esc(title)}</figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/><text x="${P}" y="${P - 8}" font-size="11">${max.toFixed(max < 10 ? 2 : 0)} ${esc(unit)}</text>
<polyline fill="none" stroke="#1565c0" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}"/>
${values.map((v, i) => (v === null ? "" : `<circle class="point${runs[i]!.anomalies.length > 0 ? " anomaly" : ""}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="${runs[i]!.anomalies.length > 0 ? 7 : 4}" fill="${COLOURS[runs[i]!.status] ?? "#1565c0"}"${runs[i]!.anomalies.length > 0 ? ' stroke="#6a1b9a" stroke-width="3"' : ""}><title>${esc(runs[i]!.run_id)}: ${v.toFixed(2)} ${esc(unit)}</title></circle>`)).join("\n")}
</svg></figure>`
}

/** One coloured bar per run: success, partial, failed at a glance. */
const statusStrip = (runs: ReadonlyArray<RunPoint>) => {
  const W = 600, H = 60, w = runs.length === 0 ? 0 : Math.min(40, (W - 20) / runs.length)
  return `<figure class="chart" data-chart="status"><figcaption>Run status (oldest → newest)</figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="run status">
${runs.map((r, i) => `<rect class="run status-${esc(r.status)}" x="${(10 + i * w).toFixed(1)}" y="10" width="${Math.max(1, w - 3).toFixed(1)}" height="${H - 20}" fill="${COLOURS[r.status] ?? "#999"}"><title>${esc(r.run_id)} ${esc(r.status)}</title></rect>${r.anomalies.length > 0 ? `<text x="${(10 + i * w + w / 2 - 4).toFixed(1)}" y="${H / 2 + 5}" font-size="16" fill="#fff">!</text>` : ""}`).join("\n")}
</svg>
<p class="legend">${Object.entries(COLOURS).map(([k, c]) => `<span><i style="background:${c}"></i>${k}</span>`).join(" ")} <span><b>!</b> anomaly</span></p></figure>`
}

const barChart = (title: string, bars: ReadonlyArray<readonly [string, number]>) => {
  const W = 600, row = 26, H = Math.max(1, bars.length) * row + 10
  const max = Math.max(1, ...bars.map(([, v]) => v))
  return `<figure class="chart" data-chart="${esc(title)}"><figcaption>${esc(title)}</figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
${bars.map(([label, v], i) => `<text x="0" y="${i * row + 18}" font-size="12">${esc(label)}</text><rect class="bar" x="200" y="${i * row + 5}" width="${((v / max) * 360).toFixed(1)}" height="18" fill="#6d4c41"/><text x="${(205 + (v / max) * 360).toFixed(1)}" y="${i * row + 18}" font-size="12">${v}</text>`).join("\n")}
</svg></figure>`
}

export const renderDashboard = (f: DashboardFigures): string => {
  const latest = f.latest
  const sources = latest ? Object.entries(latest.sources) : []
  const qualityRows = f.runs.filter((r) => Object.keys(r.quality).length > 0 || r.anomalies.length > 0).slice(-15)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>etl dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;color:#222;background:#fafafa}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:18px 0 6px}
.grid{display:flex;flex-wrap:wrap;gap:12px}.chart{flex:1 1 420px;margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;min-width:0}
.chart svg{width:100%;height:auto}figcaption{font-weight:600;margin-bottom:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}td,th{border:1px solid #ddd;padding:4px 6px;text-align:left}
.wrap{overflow-x:auto}.legend span{margin-right:10px;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.ok{color:#2e7d32}.warn{color:#f57f17}.error{color:#c62828;font-weight:600}
</style></head><body>
<h1>etl: ${f.runs.length} run(s), generated ${esc(f.generated_at)}</h1>
<div class="grid">
${statusStrip(f.runs)}
${lineChart("Duration", f.runs, (r) => r.duration_seconds, "s")}
${lineChart("Throughput", f.runs, (r) => r.rows_per_second, "rows/s")}
${lineChart("Error rate", f.runs, (r) => r.error_rate === null ? null : 100 * r.error_rate, "%")}
${barChart("Open rejects by category", f.rejects.map((g) => [`${g.source} ${g.category}`, g.count] as const))}
${latest ? barChart(`Records per source, latest run`, sources.flatMap(([n, c]) => [[`${n} loaded`, c.loaded] as const, [`${n} rejected`, c.rejected] as const, [`${n} filtered`, c.filtered] as const])) : ""}
</div>
<h2>Most common reject reasons</h2>
<div class="wrap"><table><tr><th>source</th><th>category</th><th>open</th><th>example reason</th></tr>
${f.rejects.slice(0, 12).map((g) => `<tr><td>${esc(g.source)}</td><td>${esc(g.category)}</td><td>${g.count}</td><td>${esc(g.topReason)}</td></tr>`).join("\n")}</table></div>
<h2>Data quality and anomalies</h2>
<div class="wrap"><table><tr><th>run</th><th>status</th><th>completeness</th><th>validity</th><th>consistency</th><th>timeliness</th><th>anomalies</th></tr>
${qualityRows.map((r) => `<tr class="quality-row"><td>${esc(r.run_id)}</td><td>${esc(r.status)}</td>${["completeness", "validity", "consistency", "timeliness"].map((c) => `<td class="${esc(r.quality[c] ?? "")}">${esc(r.quality[c] ?? "–")}</td>`).join("")}<td>${r.anomalies.map(esc).join("<br>") || "–"}</td></tr>`).join("\n")}</table></div>
<h2>Latest run</h2>
${latest ? `<div class="wrap"><table>
<tr><th>run</th><td>${esc(latest.run_id)} (${esc(latest.env)}, ${esc(latest.mode)})</td></tr>
<tr><th>status</th><td>${esc(latest.status)}</td></tr>
<tr><th>duration</th><td>${latest.duration_seconds.toFixed(2)} s, ${latest.throughput_rows_per_second.toFixed(0)} rows/s, peak ${latest.peak_rss_mb.toFixed(0)} MB</td></tr>
<tr><th>records</th><td>${latest.records.read} read, ${latest.records.loaded} loaded, ${latest.records.rejected} rejected, ${latest.records.filtered} filtered</td></tr>
<tr><th>failures</th><td>${latest.failures.map(esc).join("<br>") || "none"}</td></tr>
</table></div>` : "<p>No run yet.</p>"}
</body></html>
`
}
