import * as Schema from "effect/Schema"

/** A whole source could not be read: its branch fails, the others go on (graceful degradation). */
export class SourceError extends Schema.TaggedError<SourceError>()("SourceError", {
  source: Schema.String,
  /** The file or table it was read from. */
  location: Schema.String,
  reason: Schema.String,
  /** Worth retrying (a database that timed out), as opposed to a broken file. */
  transient: Schema.Boolean,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `${this.source} (${this.location}): ${this.reason}`
  }
}

/** The warehouse failed; `transient` errors are retried, the rest end the run. */
export class WarehouseError extends Schema.TaggedError<WarehouseError>()("WarehouseError", {
  operation: Schema.String,
  reason: Schema.String,
  transient: Schema.Boolean,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `warehouse ${this.operation} failed: ${this.reason}`
  }
}

/** Writing an output file (run summary, failed records, alerts) failed. */
export class OutputError extends Schema.TaggedError<OutputError>()("OutputError", {
  path: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `cannot write ${this.path}: ${this.reason}`
  }
}

/** Another run holds the warehouse's run lock. */
export class RunLocked extends Schema.TaggedError<RunLocked>()("RunLocked", {
  holder: Schema.String,
  since: Schema.String
}) {
  override get message() {
    return `another run (${this.holder}, started ${this.since}) is loading this warehouse; try again when it has finished`
  }
}
