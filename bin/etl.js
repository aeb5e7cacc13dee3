#!/usr/bin/env -S node --max-old-space-size=128 --v8-pool-size=1 --no-allocation-site-pretenuring
// The installed `etl` binary: runs dist/etl.mjs, the bundle of src/ (bin/build.js), building it
// first when it is missing or older than a source file. Bundled, the command starts in about a
// third of the time and half the memory that transpiling on the fly (tsx) took. Stack traces
// name the bundle's lines; NODE_OPTIONS=--enable-source-maps maps them to src/ (about 65 MB more).
// --max-old-space-size=128 (the shebang and the npm scripts): a run's live heap stays near 60 MB
// whatever the input's size, but V8 lets garbage pile up to several hundred MB before collecting
// it when nothing says otherwise. Raise it with NODE_OPTIONS if a huge product catalogue needs it.
// No --max-semi-space-size: V8's default is 16 MB on 64-bit, where a batch's garbage dies young
// (32 measured no faster at 1M, for about 50 MB more), and the flag would also override the young
// generation that each worker thread is given (SplitRead, QueryThread: smaller, for the peak).
// --v8-pool-size=1: one V8 helper thread instead of one per core. Each helper thread that
// allocated got its own malloc arena (four of about 4.4 MB each at 10M); the collector's
// concurrent work still runs beside the run's thread. 10M: 215 s and 189 MB against 220 s and
// 206 MB; 1M no slower.
// --no-allocation-site-pretenuring: V8 moves an allocation site to old space once most of its
// objects survived a scavenge. The rows of the batch being filled survive one, so the sites that
// make every row's strings and objects were moved, and each later row was born in old space and
// died there, collected only by full mark-compacts. 1M, side by side (bench/ab.sh), two sets of
// three pairs: 19.63 s against 22.32 s at the median (3 of 3 faster, CPU 17.89 s against 20.70 s),
// then, in a faster hour, 15.99 s against 16.38 s (2 of 3); the same peak.
import { pathToFileURL } from "node:url"
import { build, bundle, stale } from "./build.js"

if (stale()) await build()
await import(pathToFileURL(bundle).href)
