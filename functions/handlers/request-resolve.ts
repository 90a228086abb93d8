/**
 * POST /api/v1/requests/{requestId}/resolve — an operator decides a part left `unknown`:
 * `{"chunk": 0, "resolution": "sent", "batchId": "…"}` (it is this batch at PassEntry) or
 * `{"chunk": 0, "resolution": "release"}` (PassEntry does not have it: send it). Answers 200 with
 * the request as it now stands; 409 when the part is not `unknown`; 403 unless the key is an operator's.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describeIssues } from "../core/describe-issues.js";
import { authenticateCaller } from "../core/api-keys.js";
import { ValidationError } from "../core/errors.js";
import { readParts, renderRequest } from "../core/request-view.js";
import { ResolvePartBody, requireOperator, resolvePart } from "../core/resolve-part.js";
import type { RequestResolveDeps } from "../handler-deps.js";
import { awsRequestResolveDeps } from "../wiring/request-resolve.js";
import { answering, header, json, readJsonBody } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

export function makeRequestResolveHandler(getDeps: () => RequestResolveDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      const caller = await authenticateCaller(deps.secrets, header(event, "authorization"));
      requireOperator(caller);
      const parsed = ResolvePartBody.safeParse(readJsonBody(event));
      if (!parsed.success)
        throw new ValidationError("The body is not a valid resolution.", describeIssues(parsed.error), 422);
      const requestId = event.pathParameters?.requestId ?? "";
      await resolvePart(deps, requestId, parsed.data, caller);
      const request = (await deps.store.get(requestId))!;
      return json(200, renderRequest(request, await readParts(deps.ledger, requestId)));
    });
  };
}

export const handler = withLambdaContext(makeRequestResolveHandler(awsRequestResolveDeps));
