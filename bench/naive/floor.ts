/** The floor: a handler with nothing to import and nothing to do. Any cold start costs at least this. */
export const handler = async () => ({ statusCode: 200, body: "" });
