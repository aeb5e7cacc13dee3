import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Stream } from "effect"
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { readCsv } from "../../src/programs/Csv.js"
import { extractCustomers, extractProducts } from "../../src/programs/Extract.js"
import { CUSTOMER_HEADER } from "../support/Fixtures.js"

const dir = mkdtempSync(join(tmpdir(), "etl-extract-"))
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Effect.either(Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray))

describe("customers CSV", () => {
  it.layer(NodeContext.layer)((it) => {
    it.effect("reads quoted fields, embedded commas, newlines and quotes, a BOM and mixed line endings", () =>
      Effect.gen(function* () {
        const path = file("ok.csv", `\uFEFF${CUSTOMER_HEADER}\r\nC1,"Ann","Lee, Jr.",a@b.co,1,"2 Main\nUnit 3",Basic,\nC2,Bo,"say ""hi""",b@b.co,2,x,Basic,\r\n\r\nC3,Cy,Oh,c@b.co,3,y,Basic,\n`)
        const rows = Either.getOrThrow(yield* collect(extractCustomers(path)))
        expect(rows.map((r) => [r.line, r._tag === "Row" ? r.fields.slice(0, 3) : []])).toEqual([
          [2, ["C1", "Ann", "Lee, Jr."]], [4, ["C2", "Bo", 'say "hi"']], [6, ["C3", "Cy", "Oh"]]
        ])
        expect(rows[0]!._tag === "Row" && rows[0]!.fields[5]).toBe("2 Main\nUnit 3")
      }))

    it.effect("keeps a character whose bytes two reads split, drops a BOM before a quoted name, and marks a row whose bytes are not UTF-8", () =>
      Effect.gen(function* () {
        // The file is read 256 KiB at a time and decoded 64 KiB at a time: a 4-byte character starts 1, 2 and
        // 3 bytes before the end of the first piece decoded, and of the first read.
        for (const [boundary, before] of [64, 256].flatMap((kib) => [1, 2, 3].map((b) => [kib * 1024, b] as const))) {
          // A BOM before a quoted name: the quote opens the field only once the BOM is dropped.
          const head = Buffer.from(`\uFEFF"${CUSTOMER_HEADER.replace(",", '",')}\nC1,Ann,Lee,a@b.co,1,`)
          const pad = "x".repeat(boundary - before - head.length)
          const path = file(`split-${boundary}-${before}.csv`, Buffer.concat([
            head, Buffer.from(`${pad}😀é,Basic,\nC2,Bo,`), Buffer.from([0x4c, 0xff, 0x65]), Buffer.from(",b@b.co,2,y,Basic,\n")
          ]))
          const rows = Either.getOrThrow(yield* collect(extractCustomers(path)))
          expect(rows.map((r) => r._tag === "Row" && [r.fields[0], r.fields[5]!.replace(/^x+/, ""), r.fields[2], r.invalidUtf8])).toEqual([
            ["C1", "😀é", "Lee", undefined], ["C2", "y", "L\uFFFDe", true]
          ])
        }
      }))

    it.effect("matches header names trimmed and case-insensitively and ignores extra columns", () =>
      Effect.gen(function* () {
        const path = file("header.csv", ` Customer_ID ,FIRST_NAME,last_name,email,phone,address,segment,registration_date,loyalty\nC1,Ann,Lee,a@b.co,1,x,Basic,,gold\n`)
        const rows = Either.getOrThrow(yield* collect(extractCustomers(path)))
        expect(rows).toHaveLength(1)
      }))

    it.effect.each([
      ["missing.csv", null, "file not found"],
      ["empty.csv", "", "file is empty"],
      ["nocol.csv", "customer_id,first_name,last_name,email,phone,address\nC1,a,b,c,d,e\n", "header is missing required columns segment, registration_date"]
    ] as const)("fails the source on %s", ([name, content, reason]) =>
      Effect.gen(function* () {
        const path = content === null ? join(dir, name) : file(name, content)
        const result = yield* collect(extractCustomers(path))
        expect(Either.isLeft(result)).toBe(true)
        const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
        expect(error.message).toContain(path)
        expect(error.reason).toContain(reason)
      }))

    it.effect("reads a header-only file as no records", () =>
      Effect.gen(function* () {
        expect(Either.getOrThrow(yield* collect(extractCustomers(file("header-only.csv", `${CUSTOMER_HEADER}\n`))))).toEqual([])
      }))

    it.effect("refuses a file it may not read", () =>
      Effect.gen(function* () {
        if (process.getuid?.() === 0) {
          console.log("skipped: running as root, which may read any file")
          return
        }
        const path = file("secret.csv", `${CUSTOMER_HEADER}\n`)
        chmodSync(path, 0o000)
        const result = yield* collect(extractCustomers(path))
        expect(Either.isLeft(result) && result.left.reason).toBe("permission denied")
      }))

    it.effect("turns an unclosed quote into one broken record that names its line", () =>
      Effect.gen(function* () {
        const path = file("quote.csv", `${CUSTOMER_HEADER}\nC1,Ann,Lee,a@b.co,1,x,Basic,\nC2,"Bo,Ng,b@b.co,2,y,Basic,\nC3,Cy,Oh,c@b.co,3,z,Basic,\n`)
        const rows = Either.getOrThrow(yield* collect(extractCustomers(path)))
        expect(rows.map((r) => [r._tag, r.line])).toEqual([["Row", 2], ["Broken", 3]])
      }))

    it.effect.prop("never fails on any text and reports its records in line order", [
      fc.array(fc.array(fc.oneof(fc.string(), fc.constantFrom('"', ",", "\n", "\r\n", '""', "a")), { maxLength: 10 }).map((f) => f.join("")), { maxLength: 30 })
    ], ([lines]) =>
      Effect.gen(function* () {
        const text = `a,b\n${lines.join("\n")}`
        const result = yield* collect(readCsv(file("fuzz.csv", text), "fuzz", ["a"]))
        expect(Either.isRight(result)).toBe(true)
        const items = Either.getOrThrow(result)
        // Every item names a line inside the file, in order; a non-blank line is never dropped.
        const total = text.split(/\r\n|\n|\r/).length
        for (const item of items) expect(item.line).toBeGreaterThanOrEqual(2)
        for (const item of items) expect(item.line).toBeLessThanOrEqual(total)
        expect(items.map((i) => i.line)).toEqual([...items.map((i) => i.line)].sort((x, y) => x - y))
        if (lines.some((l) => l.trim() !== "")) expect(items.length).toBeGreaterThan(0)
      }))
  })
})

describe("products JSON", () => {
  it.layer(NodeContext.layer)((it) => {
    it.effect.each([
      ["truncated.json", `{"products": [{"product_id": "P1"`, /malformed JSON/],
      ["broken.json", `{"products": [\n  {"product_id": "P1"},\n  {"product_id": "P2",}\n]}`, /malformed JSON: .* at line 3, column \d+/],
      ["empty.json", "", /file is empty/],
      ["appended.json", `{"products": [{"product_id": "P1"}]}\n{"products": [{"product_id": "P2"}]}\n`, /malformed JSON: .* at line 2, column 1/],
      ["shape.json", `{"items": []}`, /expected a JSON object with a 'products' array/],
      ["notarray.json", `{"products": {"P1": {}}}`, /'products' is not an array/],
      ["missing.json", null, /file not found/]
    ] as const)("fails the source on %s", ([name, content, reason]) =>
      Effect.gen(function* () {
        const path = content === null ? join(dir, name) : file(name, content)
        const result = yield* collect((yield* extractProducts(path)).products)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left.reason).toMatch(reason)
          expect(result.left.message).toContain(path)
        }
      }))

    it.effect("reads the products and the metadata", () =>
      Effect.gen(function* () {
        const doc = yield* extractProducts(file("ok.json", `\uFEFF{"products": [{"product_id": "P1"}, 3], "metadata": {"version": "1.2"}}`))
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(doc.products))).toEqual([{ index: 0, value: { product_id: "P1" } }, { index: 1, value: 3 }])
        expect(yield* doc.metadata).toEqual({ version: "1.2" })
        const bare = yield* extractProducts(file("bare.json", `[{"product_id": "A"}]`))
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(bare.products))).toEqual([{ index: 0, value: { product_id: "A" } }])
        const spaced = yield* extractProducts(file("spaced.json", `{"products": [{"product_id": "B"}]}\n  \r\n\t`))
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(spaced.products))).toEqual([{ index: 0, value: { product_id: "B" } }])
        const empty = yield* extractProducts(file("none.json", `{"products": []}`))
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(empty.products))).toEqual([])
      }))
  })
})
