/**
 * The operator console's Lambda entry: API Gateway's event in, the console's answer out. What the
 * console shows and does, and how it keeps sessions safe, is functions/console/app.ts.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type ConsoleRequest, serveConsole } from "../console/app.js";
import type { ConsoleDeps } from "../handler-deps.js";
import { awsConsoleDeps } from "../wiring/console.js";
import { header, type HttpAnswer, rawBody } from "./http.js";

export function makeConsoleHandler(getDeps: () => ConsoleDeps) {
  return (event: APIGatewayProxyEventV2): Promise<HttpAnswer> => serveConsole(getDeps(), consoleRequestOf(event));
}

function consoleRequestOf(event: APIGatewayProxyEventV2): ConsoleRequest {
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    header: (name) => header(event, name),
    body: rawBody(event).toString("utf8"),
    requestId: event.pathParameters?.requestId,
    domainName: event.requestContext.domainName,
  };
}

export const handler = makeConsoleHandler(awsConsoleDeps);
