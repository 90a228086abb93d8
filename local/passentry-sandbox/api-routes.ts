/** The endpoints the sandbox simulates: a route table and one handler per endpoint. */
import {
  batchDocument,
  batchListDocument,
  createdBatchDocument,
  deliveryCsv,
  errorsCsv,
  hasDeliveryCsv,
  hasErrorsCsv,
} from "./batch-documents.js";
import type { BatchStore, BatchView, TransitionResult } from "./batch-store.js";
import { type ApiResponse, csvResponse, errorResponse, jsonResponse } from "./http-io.js";
import type { SandboxNotification } from "./types.js";
import { validateCreateBatch, validateNotification } from "./validation.js";

export interface RouteRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  rawBody: Buffer;
  contentType: string | undefined;
}

/** What handlers may touch. */
export interface RouteServices {
  store: BatchStore;
  notifications: SandboxNotification[];
  baseUrl: string;
  now(): number;
}

export interface RouteDefinition {
  method: string;
  template: string;
  /** API endpoints need a bearer token; the CSV files behave like pre-signed download links. */
  authenticated: boolean;
  handle(request: RouteRequest, services: RouteServices): ApiResponse;
}

export interface RouteMatch {
  template: string;
  /** Null when the path exists but not for this method. */
  route: RouteDefinition | null;
  params: Record<string, string>;
}

const DEFAULT_PER_PAGE = 25;
const MAX_PER_PAGE = 100;

const notFound = (): ApiResponse => errorResponse(404, ["Not Found"]);

type JsonBody = { ok: true; document: unknown } | { ok: false; response: ApiResponse };

/** Accepts application/json and JSON-based types such as application/vnd.api+json. */
function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i.test(contentType);
}

function readJsonBody(request: RouteRequest): JsonBody {
  if (!isJsonContentType(request.contentType)) {
    return { ok: false, response: errorResponse(415, ["Content-Type must be application/json"]) };
  }
  try {
    return { ok: true, document: JSON.parse(request.rawBody.toString("utf8")) };
  } catch (error) {
    const detail = error instanceof Error ? `: ${error.message}` : "";
    return { ok: false, response: errorResponse(400, [`Request body is not valid JSON${detail}`]) };
  }
}

function createWalletMessagingBatch(request: RouteRequest, services: RouteServices): ApiResponse {
  const body = readJsonBody(request);
  if (!body.ok) return body.response;
  const validated = validateCreateBatch(body.document, services.now());
  if (!validated.ok) return errorResponse(422, validated.errors);
  const entityId = request.params.id ?? "";
  const view = services.store.create(entityId, body.document, validated.value);
  return jsonResponse(202, createdBatchDocument(view, services.baseUrl));
}

function showBatch(request: RouteRequest, services: RouteServices): ApiResponse {
  const view = services.store.find(request.params.id ?? "");
  return view ? jsonResponse(200, batchDocument(view, services.baseUrl)) : notFound();
}

function positiveInteger(raw: string | null, fallback: number, max: number): number {
  const value = raw === null ? NaN : Number(raw);
  return Number.isInteger(value) && value >= 1 ? Math.min(value, max) : fallback;
}

function listBatches(request: RouteRequest, services: RouteServices): ApiResponse {
  const type = request.query.get("type");
  // walletMessaging is the only batch type the sandbox knows; any other type lists nothing.
  const batches = type === null || type === "walletMessaging" ? services.store.newestFirst() : [];
  const page = {
    page: positiveInteger(request.query.get("page"), 1, Number.MAX_SAFE_INTEGER),
    perPage: positiveInteger(request.query.get("perPage"), DEFAULT_PER_PAGE, MAX_PER_PAGE),
  };
  return jsonResponse(200, batchListDocument(batches, page, services.baseUrl));
}

function transitionRefused(result: Exclude<TransitionResult, { ok: true }>, refusal: string): ApiResponse {
  if (result.reason === "not-found") return notFound();
  return errorResponse(422, [`${refusal} (batch status is ${result.status})`]);
}

function sendBatchNow(request: RouteRequest, services: RouteServices): ApiResponse {
  const result = services.store.sendNow(request.params.id ?? "");
  if (!result.ok) return transitionRefused(result, "Only a scheduled batch can be sent now");
  return jsonResponse(200, { success: "Scheduled batch cancelled and batch sent now" });
}

function cancelBatch(request: RouteRequest, services: RouteServices): ApiResponse {
  const result = services.store.cancel(request.params.id ?? "");
  if (!result.ok) return transitionRefused(result, "Only a validating or scheduled batch can be cancelled");
  return jsonResponse(200, batchDocument(result.view, services.baseUrl));
}

function notifyPass(request: RouteRequest, services: RouteServices): ApiResponse {
  const body = readJsonBody(request);
  if (!body.ok) return body.response;
  const validated = validateNotification(body.document);
  if (!validated.ok) return errorResponse(422, validated.errors);
  const passId = request.params.id ?? "";
  services.notifications.push({ passId, message: validated.value.message, at: services.now() });
  return jsonResponse(200, {
    data: { id: passId, type: "pass", attributes: {} },
    meta: { notifications: { status: "sent" } },
  });
}

function batchFile(hasFile: (view: BatchView) => boolean, render: (view: BatchView) => string) {
  return (request: RouteRequest, services: RouteServices): ApiResponse => {
    const view = services.store.find(request.params.id ?? "");
    return view && hasFile(view) ? csvResponse(render(view)) : notFound();
  };
}

export const ROUTES: readonly RouteDefinition[] = [
  {
    method: "POST",
    template: "/api/v1/entities/:id/messaging/wallet",
    authenticated: true,
    handle: createWalletMessagingBatch,
  },
  { method: "GET", template: "/api/v1/batches", authenticated: true, handle: listBatches },
  { method: "GET", template: "/api/v1/batches/:id", authenticated: true, handle: showBatch },
  { method: "POST", template: "/api/v1/batches/:id/send-now", authenticated: true, handle: sendBatchNow },
  { method: "PATCH", template: "/api/v1/batches/:id/cancel", authenticated: true, handle: cancelBatch },
  { method: "POST", template: "/api/v1/passes/:id/notification", authenticated: true, handle: notifyPass },
  {
    method: "GET",
    template: "/files/:id/errors.csv",
    authenticated: false,
    handle: batchFile(hasErrorsCsv, errorsCsv),
  },
  {
    method: "GET",
    template: "/files/:id/delivery.csv",
    authenticated: false,
    handle: batchFile(hasDeliveryCsv, deliveryCsv),
  },
];

function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Matches "/a/:id/b" against a path; returns the captured params or null. */
function matchTemplate(template: string, pathname: string): Record<string, string> | null {
  const expected = template.split("/");
  const actual = pathname.split("/");
  if (expected.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (const [index, part] of expected.entries()) {
    const segment = actual[index] ?? "";
    if (part.startsWith(":")) {
      const decoded = decodeSegment(segment);
      if (decoded === null || decoded === "") return null;
      params[part.slice(1)] = decoded;
    } else if (part !== segment) {
      return null;
    }
  }
  return params;
}

export function matchRoute(method: string, pathname: string): RouteMatch | null {
  let pathOnly: RouteMatch | null = null;
  for (const route of ROUTES) {
    const params = matchTemplate(route.template, pathname);
    if (!params) continue;
    if (route.method === method) return { template: route.template, route, params };
    pathOnly ??= { template: route.template, route: null, params };
  }
  return pathOnly;
}
