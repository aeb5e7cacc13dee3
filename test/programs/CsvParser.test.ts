import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { makeCsvParser } from "../../src/programs/CsvParser.js"

const parseAll = (text: string, chunkSizes: ReadonlyArray<number>) => {
  const records: Array<[number, Array<string>]> = []
  const broken: Array<[number, string]> = []
  const parser = makeCsvParser({ record: (f, l) => void records.push([l, f]), broken: (raw, l) => void broken.push([l, raw]) })
  let i = 0
  let k = 0
  while (i < text.length) {
    const size = chunkSizes.length === 0 ? text.length : Math.max(1, chunkSizes[k++ % chunkSizes.length]!)
    parser.write(text.slice(i, i + size))
    i += size
  }
  parser.end()
  return { records, broken }
}

const encodeField = (f: string) => (/[",\r\n]/.test(f) || f === "" ? `"${f.replace(/"/g, '""')}"` : f)

describe("CsvParser", () => {
  it.prop("round-trips any records, any mix of line endings, any chunking", [
    fc.array(fc.array(fc.string({ unit: fc.constantFrom("a", "b", ",", '"', "\n", "\r", " ", "é") }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 20 }),
    fc.array(fc.constantFrom("\n", "\r\n", "\r"), { minLength: 1, maxLength: 5 }),
    fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 5 })
  ], ([records, endings, chunks]) => {
    // A record of one empty field would be a blank line, which the reader skips: quote it.
    const lines = records.map((r) => (r.length === 1 && r[0] === "" ? '""' : r.map(encodeField).join(",")))
    let text = ""
    const starts: Array<number> = []
    let line = 1
    lines.forEach((l, i) => {
      starts.push(line)
      const ending = endings[i % endings.length]!
      text += l + ending
      line += 1 + (l.match(/\r\n|\n|\r/g)?.length ?? 0)
    })
    const { broken, records: parsed } = parseAll(text, chunks)
    expect(broken).toEqual([])
    expect(parsed.map(([, f]) => f)).toEqual(records)
    expect(parsed.map(([l]) => l)).toEqual(starts)
  })

  it.each([
    ['"ab"cd,e\n', ["abcd", "e"]],
    ['x"y,"c""d"\n', ['x"y', 'c"d']],
    ['"a\r\nb","",""""\n', ["a\r\nb", "", '"']],
    ['"ab"c"d,e\n', ['abc"d', "e"]],
    ['x"y,"a,b",\r\n', ['x"y', "a,b", ""]],
    ['"",1,"2"\r', ["", "1", "2"]],
    ['"a","b\nc",d\n', ["a", "b\nc", "d"]]
  ])("reads %j as %j", (text, fields) => {
    expect(parseAll(text, []).records).toEqual([[1, fields]])
    expect(parseAll(text, [1]).records).toEqual([[1, fields]])
  })

  it("keeps a quote inside an unquoted field and reports an unclosed quote with its line", () => {
    const { broken, records } = parseAll('a,b\n1,x"y\n2,"open\n3,4\n', [])
    expect(records).toEqual([[1, ["a", "b"]], [2, ["1", 'x"y']]])
    expect(broken).toEqual([[3, '2,"open\n3,4\n']])
  })
})
