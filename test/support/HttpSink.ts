import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** An HTTP server on 127.0.0.1 that records every JSON body posted to it, closed with the scope. */
export const httpSink = (status = 200) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly received: Array<{ readonly path: string; readonly body: unknown }> }>((resume) => {
      const received: Array<{ path: string; body: unknown }> = []
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (c) => (body += c))
        req.on("end", () => {
          received.push({ path: req.url ?? "", body: body === "" ? null : JSON.parse(body) })
          res.writeHead(status).end()
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed(Object.assign({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }, { server }))))
    }),
    (sink) => Effect.sync(() => void (sink as unknown as { server: { close: () => void } }).server.close())
  )
