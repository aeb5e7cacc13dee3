/** Whitespace other than a single space: what cleanText has to replace. */
const UNCLEAN = /\s\s|[^\S ]/

/**
 * Trims and collapses every run of whitespace to one space; `undefined` when nothing is left.
 * Text whose only whitespace is single spaces (most names and addresses) is returned as it is: the
 * replace made a new string of every one (500k customers: 157 ms).
 */
export const cleanText = (raw: string | undefined): string | undefined => {
  if (raw === undefined) return undefined
  const trimmedText = raw.trim()
  const text = UNCLEAN.test(trimmedText) ? trimmedText.replace(/\s+/g, " ") : trimmedText
  return text.length === 0 ? undefined : text
}

/** Trims; `undefined` when empty. */
export const trimmed = (raw: string | undefined): string | undefined => {
  if (raw === undefined) return undefined
  const text = raw.trim()
  return text.length === 0 ? undefined : text
}

const WORD_BREAK = new Set([" ", "-", "'"])

// A character whose case mapping changes its length ('ß' → 'SS') keeps its
// spelling, so title case stays idempotent.
const mapCase = (ch: string, upper: boolean): string => {
  const mapped = upper ? ch.toUpperCase() : ch.toLowerCase()
  return mapped.length === ch.length ? mapped : ch
}

/**
 * Title Case as the contract defines it: the first letter of every word upper
 * case, the rest lower case; a word starts at the beginning, after a space, a
 * hyphen or an apostrophe. `"o'BRIEN"` → `"O'Brien"`, `"mary-jane"` → `"Mary-Jane"`.
 */
export const titleCase = (text: string): string => {
  let out = ""
  let startOfWord = true
  for (const ch of text) {
    out += mapCase(ch, startOfWord)
    startOfWord = WORD_BREAK.has(ch)
  }
  return out
}
