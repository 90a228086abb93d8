/**
 * POST /api/v1/entities/{entityId}/messaging/wallet — the same body PassEntry's endpoint takes.
 * Answers 202 with our request id; the send happens later, from the queue.
 *
 * Callers authenticate with an API key, or sign the request as a Standard Webhook (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`). A signed request's idempotency key is its `webhook-id`,
 * whatever an unsigned Idempotency-Key header says: the signature covers the id, not that header, so
 * a captured request replayed with a fresh Idempotency-Key is still the same request.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { acceptRequest } from "../core/accept-request.js";
import { authenticateCaller } from "../core/api-keys.js";
import { ValidationError } from "../core/errors.js";
import { renderRequest, requestSelfLink } from "../core/request-view.js";
import { parseSigningSecrets, standardWebhookHeaders, verifyStandardWebhook } from "../core/webhook-signatures.js";
import type { AcceptHandlerDeps } from "../handler-deps.js";
import { awsAcceptHandlerDeps } from "../wiring/accept.js";
import { answering, boundedRawBody, header, json, readJsonBody } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function makeAcceptHandler(getDeps: () => AcceptHandlerDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      const signature = standardWebhookHeaders((name) => header(event, name));
      const caller = signature
        ? verifyStandardWebhook(
            boundedRawBody(event),
            signature,
            parseSigningSecrets(await deps.secrets.get("webhook-signing-secrets")),
          )
        : await authenticateCaller(deps.secrets, header(event, "authorization"));
      // Spaces around the id are a slip; any other character that is not printable is refused (EntityId).
      const entityId = event.pathParameters?.entityId?.replace(/^ +| +$/g, "");
      if (!entityId)
        throw new ValidationError("The entity id is missing.", [
          "The path must name an entity: /api/v1/entities/{entityId}/messaging/wallet.",
        ]);
      const idempotencyKey = signature ? signature.id : header(event, "idempotency-key");
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new ValidationError("The Idempotency-Key header is not valid.", [
          "Idempotency-Key (or a signed request's webhook-id) must be 1 to 255 visible ASCII characters.",
        ]);
      }
      const body = readJsonBody(event);
      const { request, replayed } = await acceptRequest(deps.accept, {
        entityId,
        body,
        source: "http",
        idempotencyKey,
        caller,
      });
      return json(202, renderRequest(request, []), {
        location: requestSelfLink(request.requestId),
        ...(replayed ? { "idempotent-replayed": "true" } : {}),
      });
    });
  };
}

export const handler = withLambdaContext(makeAcceptHandler(awsAcceptHandlerDeps));
