import { apiThrottling, functions, routes, type FunctionKey } from "./manifest.js";
import { lambda } from "./lambda.js";

/**
 * The HTTP API: PassEntry-shaped trigger endpoint, the request list, status/cancel/resolve, health,
 * PassEntry's webhooks and the operator console. Each route gets its own Lambda with only the
 * access its handler needs; a function several routes share (the console) is built once and each
 * of its routes points at it, so it has one name, one log group and one set of alarms.
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

const shared = new Map<FunctionKey, sst.aws.Function>();
for (const { route, fn } of routes) {
  if (routes.filter((r) => r.fn === fn).length === 1) {
    api.route(route, lambda(functions[fn]));
    continue;
  }
  // Function names are fixed (manifest `functionName`): a second function of the same name would fail the deploy.
  let built = shared.get(fn);
  if (!built) {
    built = new sst.aws.Function(functions[fn].name, lambda(functions[fn]));
    shared.set(fn, built);
  }
  api.route(route, built.arn);
}
