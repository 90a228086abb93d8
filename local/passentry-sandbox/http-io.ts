/** Small HTTP helpers: reading capped bodies and describing answers as plain values. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";

/** Bodies above this are answered 413 instead of being parsed. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** An answer described as data, so faults can decide afterwards whether it is sent or dropped. */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  payload: string;
}

export interface RequestBody {
  bytes: Buffer;
  tooLarge: boolean;
}

export function jsonResponse(status: number, document: unknown, headers: Record<string, string> = {}): ApiResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    payload: JSON.stringify(document),
  };
}

/** PassEntry's one documented error shape: `{"errors":["..."]}`. */
export function errorResponse(status: number, messages: string[]): ApiResponse {
  return jsonResponse(status, { errors: messages });
}

export function csvResponse(text: string): ApiResponse {
  return { status: 200, headers: { "content-type": "text/csv; charset=utf-8" }, payload: text };
}

/** A caller-chosen answer (scripted faults). Strings go out raw so tests can mimic non-JSON gateways. */
export function arbitraryResponse(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  if (typeof body === "string") {
    return { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, payload: body };
  }
  const document = body === undefined ? { errors: [STATUS_CODES[status] ?? "Error"] } : body;
  return jsonResponse(status, document, headers);
}

/**
 * Reads the whole body but keeps at most MAX_BODY_BYTES. The rest is drained rather than left
 * unread, so the client finishes uploading and can read our 413 instead of seeing a reset.
 */
export async function readBody(req: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return { bytes: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge };
}

export function writeResponse(res: ServerResponse, response: ApiResponse, extraHeaders: Record<string, string>): void {
  const payload = Buffer.from(response.payload, "utf8");
  res.writeHead(response.status, {
    ...extraHeaders,
    ...response.headers,
    "content-length": String(payload.length),
  });
  res.end(payload);
}
