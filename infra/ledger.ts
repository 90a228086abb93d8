import { table as spec } from "./manifest.js";
import { isProduction } from "./stage.js";

/**
 * The send ledger and request records: one table, keyed by `pk` + `sk` (see the manifest), items
 * expire through `expiresAt`.
 * On-demand billing (SST's default): traffic is bursty and small, provisioned capacity would idle.
 */
export const table = new sst.aws.Dynamo(spec.name, {
  fields: {
    [spec.hashKey]: "string",
    [spec.rangeKey]: "string",
    [spec.listIndex.hashKey]: "string",
    [spec.listIndex.rangeKey]: "string",
    [spec.callerIndex.hashKey]: "string",
  },
  primaryIndex: { hashKey: spec.hashKey, rangeKey: spec.rangeKey },
  // The request list (GET /api/v1/requests, the console): everyone's newest first, and one
  // caller's own newest first; see the manifest.
  globalIndexes: {
    [spec.listIndex.name]: { hashKey: spec.listIndex.hashKey, rangeKey: spec.listIndex.rangeKey },
    [spec.callerIndex.name]: { hashKey: spec.callerIndex.hashKey, rangeKey: spec.callerIndex.rangeKey },
  },
  ttl: spec.ttlAttribute,
  // The ledger is what prevents a second send: losing it in production would be worse than a
  // failed `sst remove`.
  deletionProtection: isProduction,
  transform: {
    table: {
      billingMode: "PAY_PER_REQUEST",
      // SST 4 enables point-in-time recovery on every table today; say so explicitly so a
      // changed default cannot silently drop it in production. Other stages skip its cost.
      pointInTimeRecovery: { enabled: isProduction },
    },
  },
});
