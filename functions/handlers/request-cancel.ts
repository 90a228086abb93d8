/**
 * DELETE /api/v1/requests/{requestId} — cancel a request. Parts not yet sent are cancelled at once;
 * batches already at PassEntry are cancelled by the sender (this function holds no PassEntry token).
 * Answers 202 with the request as it now stands. A caller cancels its own requests only (operators
 * any): another caller's id answers 404, as an unknown one does.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { authenticateCaller } from "../core/api-keys.js";
import { cancelRequest } from "../core/cancel-request.js";
import { renderRequest } from "../core/request-view.js";
import type { RequestCancelDeps } from "../handler-deps.js";
import { awsRequestCancelDeps } from "../wiring/request-cancel.js";
import { answering, header, json } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

export function makeRequestCancelHandler(getDeps: () => RequestCancelDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      const caller = await authenticateCaller(deps.secrets, header(event, "authorization"));
      const { request, sends } = await cancelRequest(deps, event.pathParameters?.requestId ?? "", caller);
      return json(202, renderRequest(request, sends));
    });
  };
}

export const handler = withLambdaContext(makeRequestCancelHandler(awsRequestCancelDeps));
