/**
 * The dimension keys a direct first load checks every fact against, held
 * compactly: every key's characters in one string, where each starts, and an
 * open-addressing table of key numbers by hash. Half a million customer keys
 * took about 30 MB as a Set of strings (the strings, and the Set's table of
 * them), and reading them as row objects at once put 25 MB more on the peak.
 */
export interface KeySetParts {
  readonly text: string
  readonly starts: Int32Array
  readonly slots: Int32Array
}

export class KeySet {
  private constructor(
    private readonly text: string,
    private readonly starts: Int32Array,
    private readonly slots: Int32Array
  ) {}

  /** Keys added a page at a time (each page's strings are garbage once it is in), then indexed. */
  static builder(): { readonly add: (keys: Iterable<string>) => void; readonly build: () => KeySet } {
    let text = ""
    const ends: Array<number> = []
    return {
      add: (keys) => {
        const page: Array<string> = []
        let end = text.length
        for (const key of keys) {
          page.push(key)
          end += key.length
          ends.push(end)
        }
        text += page.join("")
      },
      build: () => KeySet.index(text, ends)
    }
  }

  static of(keys: Iterable<string>): KeySet {
    const builder = KeySet.builder()
    builder.add(keys)
    return builder.build()
  }

  private static index(text: string, ends: ReadonlyArray<number>): KeySet {
    const starts = new Int32Array(ends.length + 1)
    for (let i = 0; i < ends.length; i++) starts[i + 1] = ends[i]!
    // At most half full, so a probe ends after a step or two.
    let size = 16
    while (size < ends.length * 2) size *= 2
    const slots = new Int32Array(size).fill(-1)
    const set = new KeySet(text, starts, slots)
    for (let k = 0; k < ends.length; k++) {
      const slot = set.slotOf(text, starts[k]!, starts[k + 1]!)
      if (slots[slot] === -1) slots[slot] = k
    }
    return set
  }

  /** What the set is made of, for another thread (structured clone copies it; fromParts takes it back). */
  parts(): KeySetParts {
    return { text: this.text, starts: this.starts, slots: this.slots }
  }

  static fromParts(parts: KeySetParts): KeySet {
    return new KeySet(parts.text, parts.starts, parts.slots)
  }

  has(key: string): boolean {
    return this.slots[this.slotOf(key, 0, key.length)] !== -1
  }

  /** The slot holding the key `source[from, to)`, or the empty slot where it would go. */
  private slotOf(source: string, from: number, to: number): number {
    const mask = this.slots.length - 1
    let slot = hashOf(source, from, to) & mask
    for (;;) {
      const k = this.slots[slot]!
      if (k === -1 || this.equals(k, source, from, to)) return slot
      slot = (slot + 1) & mask
    }
  }

  private equals(k: number, source: string, from: number, to: number): boolean {
    const start = this.starts[k]!
    if (this.starts[k + 1]! - start !== to - from) return false
    for (let i = 0; i < to - from; i++) if (this.text.charCodeAt(start + i) !== source.charCodeAt(from + i)) return false
    return true
  }
}

/** FNV-1a over UTF-16 code units. */
export const hashOf = (text: string, from: number, to: number): number => {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}
