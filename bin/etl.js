#!/usr/bin/env node
// The installed `etl` binary: runs the TypeScript entry point through tsx's loader,
// so a checkout works with `npx etl …` without a build step.
import { register } from "tsx/esm/api"
register()
await import("../src/bin.ts")
