import { apiThrottling, functions, routes } from "./manifest.js";
import { lambda } from "./lambda.js";

/**
 * The HTTP API: PassEntry-shaped trigger endpoint, request status/cancel/resolve, health, and
 * PassEntry's webhooks. Each route gets its own Lambda with only the access its handler needs.
 */
export const api = new sst.aws.ApiGatewayV2("WalletApi", {
  transform: {
    // Stage throttling is only reachable here; the numbers are justified in the manifest.
    stage: {
      defaultRouteSettings: {
        throttlingRateLimit: apiThrottling.rateLimit,
        throttlingBurstLimit: apiThrottling.burstLimit,
      },
    },
  },
});

for (const { route, fn } of routes) {
  api.route(route, lambda(functions[fn]));
}
