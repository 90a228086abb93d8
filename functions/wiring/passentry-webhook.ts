/** The PassEntry webhook function's adapters: the accept path, its secrets, and the declared automations. */
import { composePassEntryWebhook } from "../composition.js";
import { parseAutomations } from "../core/automations.js";
import { awsConfig, once } from "./aws-base.js";
import { awsAcceptPorts } from "./accept.js";
// Bundled into this Lambda only: changing automations is a deploy, reviewed like code.
import automationsDocument from "../../automations.json" with { type: "json" };

export const awsPassEntryWebhookDeps = once(() =>
  composePassEntryWebhook(
    { ...awsAcceptPorts(), automations: parseAutomations(automationsDocument) },
    { allowedBatchKeys: awsConfig().ALLOWED_BATCH_KEYS },
  ),
);
