/**
 * The shape of the one DynamoDB table that the adapters rely on beyond its key (`pk` + `sk`): the
 * index that pages requests newest first. infra/manifest.ts builds the table from this, so the
 * adapters and the deployed table cannot disagree; it imports nothing, so the manifest still loads
 * under plain Node.
 *
 * Every request item carries `listPk` = "REQ" and `listSk` = `<createdAt>#<request id>`. One
 * partition holds them all: writes to it are bounded by how fast requests arrive (the API allows
 * 25/s), far below a partition's 1,000 writes/s, and one partition is what lets a single Query
 * return them in order. The index projects every attribute, so a page needs no second read.
 */
export const REQUEST_LIST_INDEX = { name: "ByCreatedAt", hashKey: "listPk", rangeKey: "listSk" } as const;

/**
 * A caller's own requests, newest first: items with a caller also carry `callerPk` = the caller id,
 * so a caller's list reads only its requests and another caller's volume neither fills its pages
 * nor uses up what a page may examine. Requests without a caller (put straight on the queue or the
 * bus) are not in it: operators read them through ByCreatedAt.
 */
export const REQUEST_CALLER_INDEX = { name: "ByCaller", hashKey: "callerPk", rangeKey: "listSk" } as const;
