/**
 * POST /webhooks/passentry — PassEntry's own events (pass installed, removed, scanned, created).
 * Verifies `X-Webhook-Signature` over the raw body, then runs the automations the event triggers
 * and answers 202 at once: the messages themselves go through the queue like any other request.
 *
 * Answers: 202 for every verified event, including types we do not know and events no automation
 * wants (PassEntry would otherwise retry them); 401 unsigned or mis-signed; 400 malformed; 413 over
 * 256 KB; 503 when the queue is briefly unavailable (PassEntry retries, and the event id makes the
 * retry safe).
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describeIssues } from "../core/describe-issues.js";
import { runAutomations } from "../core/automations.js";
import { ValidationError } from "../core/errors.js";
import { PassEntryWebhookEvent } from "../core/passentry-webhook.js";
import { parsePassEntryWebhookSecrets, verifyPassEntrySignature } from "../core/webhook-signatures.js";
import type { PassEntryWebhookDeps } from "../handler-deps.js";
import { awsPassEntryWebhookDeps } from "../wiring/passentry-webhook.js";
import { answering, boundedRawBody, header, json, parseJsonBytes } from "./http.js";
import { withLambdaContext } from "../wiring/aws-base.js";

export function makePassEntryWebhookHandler(getDeps: () => PassEntryWebhookDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      // PassEntry documents no content type, so none is required: the signature, not a header, says the body is PassEntry's.
      const body = boundedRawBody(event);
      verifyPassEntrySignature(
        body,
        header(event, "x-webhook-signature"),
        parsePassEntryWebhookSecrets(await deps.secrets.get("passentry-webhook-secrets")),
      );
      const parsed = PassEntryWebhookEvent.safeParse(parseJsonBytes(body));
      if (!parsed.success)
        throw new ValidationError(
          "The body is not a PassEntry webhook event.",
          describeIssues(parsed.error).slice(0, 20),
          400,
        );
      const handled = await runAutomations(deps, parsed.data);
      return json(202, {
        data: {
          id: handled.eventId,
          type: "passEntryWebhookEvent",
          attributes: {
            webhookType: handled.webhookType,
            ignored: handled.ignored ?? null,
            requests: handled.runs.map((r) => ({
              automationId: r.automationId,
              requestId: r.requestId,
              outcome: r.outcome,
            })),
          },
        },
      });
    });
  };
}

export const handler = withLambdaContext(makePassEntryWebhookHandler(awsPassEntryWebhookDeps));
