// One Lambda execution environment: loads the function's bundle on the first invocation (the cold
// start) and calls its handler with Lambda's context for each invocation it is sent over IPC.
// Plain JavaScript on purpose: the bundle is what runs, nothing of ours is compiled in.
//
// Outbound HTTP: the function runs with no internet. `fetch` to an origin in `outbound` (e.g. the
// PassEntry URL the stage is configured with) goes to the stand-in mapped to it; any other
// non-loopback origin is refused, so a call we did not expect fails here instead of leaving the machine.
// HTTPS requests through `node:https` (the AWS SDK's transport) to any host go to the AWS gateway:
// the SDK's SQS client sends to the queue URL's own host (sqs.<region>.amazonaws.com) whatever
// AWS_ENDPOINT_URL says, so routing by host is what keeps every AWS call on this machine.
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";
import { pathToFileURL } from "node:url";

let handler;
let init;

function installOutbound(outbound) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, options) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url);
    const mapped = outbound[url.origin];
    if (mapped) return realFetch(mapped + url.pathname + url.search, options);
    if (url.hostname === "127.0.0.1" || url.hostname === "localhost") return realFetch(input, options);
    return Promise.reject(new TypeError(`fetch failed: the rehearsal has no network route to ${url.origin}`));
  };
}

function routeHttpsToGateway(gatewayUrl) {
  const gateway = new URL(gatewayUrl);
  const toGateway = (...args) => {
    const [first, second, third] = args;
    let options;
    let callback;
    if (typeof first === "string" || first instanceof URL) {
      const url = new URL(String(first));
      options = {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ...(typeof second === "object" ? second : {}),
      };
      callback = typeof second === "function" ? second : third;
    } else {
      options = { ...first };
      callback = second;
    }
    const { agent: _agent, ...rest } = options;
    return http.request(
      { ...rest, protocol: "http:", hostname: gateway.hostname, host: gateway.hostname, port: gateway.port },
      callback,
    );
  };
  https.request = toGateway;
  https.get = (...args) => {
    const request = toGateway(...args);
    request.end();
    return request;
  };
  syncBuiltinESMExports();
}

async function invoke(message) {
  const started = Date.now();
  if (!handler) {
    const mod = await import(pathToFileURL(init.entryFile).href);
    handler = mod[init.exportName];
    if (typeof handler !== "function")
      throw new Error(`The bundle ${init.entryFile} exports no function named ${init.exportName}.`);
  }
  const deadline = message.deadline;
  const context = {
    functionName: init.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: init.functionArn,
    memoryLimitInMB: String(init.memoryMb),
    awsRequestId: message.requestId,
    logGroupName: init.logGroupName,
    logStreamName: `rehearsal/${process.pid}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const result = await handler(message.event, context);
  return { result, durationMs: Date.now() - started };
}

process.on("message", (message) => {
  if (message.type === "init") {
    init = message;
    installOutbound(message.outbound ?? {});
    routeHttpsToGateway(message.gatewayUrl);
    process.send({ type: "ready" });
    return;
  }
  if (message.type === "invoke") {
    invoke(message).then(
      ({ result, durationMs }) =>
        process.send({ type: "result", id: message.id, result: result === undefined ? null : result, durationMs }),
      (error) =>
        process.send({
          type: "error",
          id: message.id,
          errorType: error?.name ?? "Error",
          errorMessage: String(error?.message ?? error),
          stack: String(error?.stack ?? ""),
        }),
    );
  }
});
