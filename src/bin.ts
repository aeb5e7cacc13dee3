/**
 * The process edge: the only place that runs an Effect. Maps how the command
 * ended to the contract's exit codes.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { argv } from "node:process"
import pkg from "../package.json" with { type: "json" }
import { cli, EXIT } from "./Cli.js"

const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(EXIT.success)
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(130)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { _tag?: string; code?: number }
    if (e._tag === "ExitStatus" && typeof e.code === "number") return onExit(e.code)
    if (ValidationError.isValidationError(failure.value)) {
      // --help and --version end as "validation errors" with nothing wrong.
      return onExit(failure.value._tag === "HelpRequested" ? EXIT.success : EXIT.usage)
    }
  }
  onExit(EXIT.failure)
}

cli(pkg.version)(argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true, teardown })
)
