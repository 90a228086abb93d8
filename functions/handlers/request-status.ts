/** GET /api/v1/requests/{requestId} — what became of a request: queued, submitted (with PassEntry's batch), failed, unknown. */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { authenticate, parseApiKeys } from "../core/api-keys.js";
import { NotFoundError } from "../core/errors.js";
import { renderRequest } from "../core/request-view.js";
import type { RequestStatusDeps } from "../wiring.js";
import { awsRequestStatusDeps } from "../wiring/request-status.js";
import { answering, header, json } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

export function makeRequestStatusHandler(getDeps: () => RequestStatusDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      authenticate(header(event, "authorization"), parseApiKeys(await deps.secrets.get("api-keys")));
      const requestId = event.pathParameters?.requestId ?? "";
      const request = requestId ? await deps.accept.store.get(requestId) : undefined;
      if (!request) throw new NotFoundError(`No request has the id ${JSON.stringify(requestId.slice(0, 100))}.`);
      return json(200, renderRequest(request, await deps.ledger.list(requestId)));
    });
  };
}

export const handler = withLambdaContext(makeRequestStatusHandler(awsRequestStatusDeps));
