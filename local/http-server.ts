/**
 * The embedded home's HTTP door: turns each Node request into the API Gateway HTTP API (v2) event
 * the Lambda handlers receive on AWS, so the very same handlers answer locally.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { MAX_BODY_BYTES } from "../functions/handlers/http.js";
import type { Credential, Door } from "./door.js";

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Route {
  method: string;
  /** API Gateway route syntax: `/api/v1/requests/{requestId}`. */
  path: string;
  handler: HttpHandler;
  /** What the door checks before the handler runs (`none` for health checks, which must keep answering under load). */
  credential: Credential;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

const TEXT_TYPES = /^(application\/([a-z0-9.+-]*\+)?json|text\/|application\/x-www-form-urlencoded)/i;

/**
 * The method whose route answers: the request's own, except that HEAD falls back to GET where no
 * HEAD route exists. API Gateway HTTP APIs match a route's method exactly (a route is "an HTTP
 * method and a resource path", or ANY for every method not defined), so on AWS, where we declare
 * only `GET /health` and friends and no `$default` route, a HEAD gets API Gateway's own 404. Locally
 * HEAD is answered as GET without the body (RFC 9110 §9.3.2), because `curl -I` and uptime probes
 * use it on this server; the handler sees a GET, so it answers exactly as it would to one.
 */
function routedMethod(method: string, methodsHere: readonly string[]): string {
  return method === "HEAD" && !methodsHere.includes("HEAD") && methodsHere.includes("GET") ? "GET" : method;
}

/** Builds the v2 event API Gateway would deliver for this request (for `method`, when HEAD is routed as GET). */
export function toApiGatewayEvent(
  req: IncomingMessage,
  body: Buffer,
  route: CompiledRoute,
  pathParameters: Record<string, string>,
  method = req.method ?? "GET",
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  // Like API Gateway: text-like bodies arrive as text, anything else base64-encoded. Bytes that are
  // not valid UTF-8 are not text whatever their type says: decoding them would replace bytes, so a
  // signature over the raw body could not verify and the handler could not refuse them.
  const asText = TEXT_TYPES.test(headers["content-type"] ?? "") && isUtf8(body);
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: `${route.method} ${route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    pathParameters,
    requestContext: {
      accountId: "local",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: `${route.method} ${route.path}`,
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: body.length === 0 ? undefined : asText ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: body.length > 0 && !asText,
  };
}

function send(res: ServerResponse, answer: APIGatewayProxyStructuredResultV2): void {
  const headers = Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k, String(v)]));
  const body =
    answer.body === undefined ? "" : answer.isBase64Encoded ? Buffer.from(answer.body, "base64") : answer.body;
  res.writeHead(answer.statusCode ?? 200, headers);
  res.end(body);
}

const jsonError = (statusCode: number, message: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ errors: [message] }),
});

export interface LocalHttpServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A request that has sent only part of its body after this long is cut off: a half-sent body holds
 * the room the door reserved for it, so it must not hold it for Node's default five minutes.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Something failed while serving a request (answered 500). */
  onError?: (error: unknown) => void;
  /** The client went away before its request was read: nothing to answer, and nothing wrong here. */
  onClientAbort?: (error: unknown) => void;
  /** Checks credentials and limits before (and, for signed requests, right after) the body is read. */
  door?: Door;
}

/** Serves `routes` on host:port. Never crashes on a request: any failure answers 500 and is logged. */
export async function startHttpServer(routes: Route[], options: HttpServerOptions): Promise<LocalHttpServer> {
  const compiled = routes.map(compile);
  // Node lowers its headers timeout to the request timeout when given only the latter.
  const server = http.createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    void serve(req, res).catch((error) => {
      if (isClientAbort(error, req)) {
        options.onClientAbort?.(error);
        res.destroy();
        return;
      }
      options.onError?.(error);
      if (!res.headersSent) send(res, jsonError(500, "Internal error."));
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const candidates = compiled.map((route) => ({ route, match: route.pattern.exec(path) })).filter((c) => c.match);
    const method = routedMethod(
      req.method ?? "GET",
      candidates.map((c) => c.route.method),
    );
    const hit = candidates.find((c) => c.route.method === method);
    if (!hit) {
      const allowed = [
        ...new Set(candidates.flatMap((c) => (c.route.method === "GET" ? ["GET", "HEAD"] : [c.route.method]))),
      ].join(", ");
      refuseUnread(
        req,
        res,
        candidates.length > 0
          ? {
              ...jsonError(405, `Method ${req.method} is not allowed here; use ${allowed}.`),
              headers: { "content-type": "application/json", allow: allowed },
            }
          : jsonError(404, noSuchRoute(path, routes)),
      );
      return;
    }
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
      refuseUnread(req, res, jsonError(413, `The body must be at most ${MAX_BODY_BYTES} bytes.`));
      return;
    }
    // Like API Gateway's throttling, and more (see door.ts): refused before the body is read or a handler runs.
    const admitted = options.door ? await options.door.beforeBody(req, hit.route.credential) : { admit: true as const };
    if ("refuse" in admitted) {
      refuseUnread(req, res, admitted.refuse);
      return;
    }
    try {
      const body = await readCapped(req, MAX_BODY_BYTES);
      if (body === "too-large") {
        send(res, jsonError(413, `The body must be at most ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      const refused = await options.door?.afterBody(req, hit.route.credential, body);
      if (refused) {
        send(res, refused);
        return;
      }
      let pathParameters: Record<string, string>;
      try {
        pathParameters = Object.fromEntries(
          hit.route.names.map((name, i) => [name, decodeURIComponent(hit.match![i + 1]!)]),
        );
      } catch {
        send(res, jsonError(400, "The path is not validly percent-encoded."));
        return;
      }
      // For HEAD, Node's response drops the body it is given (ServerResponse knows the request's method).
      send(res, await hit.route.handler(toApiGatewayEvent(req, body, hit.route, pathParameters, method)));
    } finally {
      if ("reservation" in admitted) admitted.reservation?.release();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A sentence naming the routes there are, the likeliest first (the one sharing the longest start with the path asked). */
export function noSuchRoute(path: string, routes: readonly Route[]): string {
  const shared = (route: Route) => {
    let i = 0;
    while (i < path.length && i < route.path.length && path[i] === route.path[i]) i++;
    return i;
  };
  const ranked = [...routes]
    .filter((r) => r.path !== "/" && !r.path.startsWith("/console/"))
    .sort((a, b) => shared(b) - shared(a));
  return `No such route: ${path.slice(0, 200)}. The API's routes are ${ranked.map((r) => `${r.method} ${r.path}`).join(", ")}; the console is at /.`;
}

/**
 * Answers without keeping the body: whatever the client still sends is read and dropped (no
 * buffer grows), so a client that sends its whole body still gets this answer, and one that stalls
 * is cut off by REQUEST_TIMEOUT_MS.
 */
function refuseUnread(req: IncomingMessage, res: ServerResponse, answer: APIGatewayProxyStructuredResultV2): void {
  req.resume();
  send(res, answer);
}

/** The client closed the connection before its request was read in full. */
function isClientAbort(error: unknown, req: IncomingMessage): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return (
    !req.complete &&
    (code === "ECONNRESET" || code === "ECONNABORTED" || (error as Error | undefined)?.message === "aborted")
  );
}

/** Reads the body, stopping (without buffering more) once it passes `limit` bytes. */
function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? "too-large" : Buffer.concat(chunks)));
    req.on("error", reject);
    // Some hang-ups end with 'close' and no 'error': the request would otherwise wait for ever.
    req.on("close", () => {
      if (!req.complete) reject(Object.assign(new Error("aborted"), { code: "ECONNRESET" }));
    });
  });
}
