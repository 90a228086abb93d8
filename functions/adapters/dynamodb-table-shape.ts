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
