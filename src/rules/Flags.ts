/** `quality_flags` as stored: sorted, comma-separated, no spaces; null when there are none. */
export const formatFlags = (flags: ReadonlyArray<string>): string | null =>
  flags.length === 0 ? null : [...new Set(flags)].sort().join(",")
