/**
 * GET /api/v1/requests/{requestId} — what became of a request: queued, submitted (with PassEntry's
 * batch), failed, unknown. A caller sees its own requests only (operators see all): any other id
 * answers the same 404 as an id that does not exist, so ids cannot be probed.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { authenticateCaller } from "../core/api-keys.js";
import { mayAccess } from "../core/callers.js";
import { NotFoundError } from "../core/errors.js";
import { readParts, renderRequest } from "../core/request-view.js";
import type { RequestStatusDeps } from "../handler-deps.js";
import { awsRequestStatusDeps } from "../wiring/request-status.js";
import { answering, header, json } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

export function makeRequestStatusHandler(getDeps: () => RequestStatusDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      const caller = await authenticateCaller(deps.secrets, header(event, "authorization"));
      const requestId = event.pathParameters?.requestId ?? "";
      const request = requestId ? await deps.store.get(requestId) : undefined;
      if (!request || !mayAccess(caller, request))
        throw new NotFoundError(`No request has the id ${JSON.stringify(requestId.slice(0, 100))}.`);
      return json(200, renderRequest(request, await readParts(deps.ledger, requestId)));
    });
  };
}

export const handler = withLambdaContext(makeRequestStatusHandler(awsRequestStatusDeps));
