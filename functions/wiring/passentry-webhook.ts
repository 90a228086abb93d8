/** The PassEntry webhook function's adapters: the accept path, its secrets, and the declared automations. */
import { parseAutomations } from "../core/automations.js";
import type { PassEntryWebhookDeps } from "../wiring.js";
import { awsLog, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";
import { awsAcceptDeps } from "./accept.js";
// Bundled into this Lambda only: changing automations is a deploy, reviewed like code.
import automationsDocument from "../../automations.json" with { type: "json" };

export const awsPassEntryWebhookDeps = once((): PassEntryWebhookDeps => ({
  accept: awsAcceptDeps(),
  secrets: awsSecrets(),
  log: awsLog(),
  automations: parseAutomations(automationsDocument),
}));
