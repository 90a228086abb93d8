/**
 * The resolve function's adapters: exactly the cancel function's (store, ledger, the queue for the
 * request or follow-up it queues again, and the API keys), so it shares their builder.
 */
export { awsRequestCancelDeps as awsRequestResolveDeps } from "./request-cancel.js";
