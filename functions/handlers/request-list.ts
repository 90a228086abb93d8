/**
 * GET /api/v1/requests — requests newest first, with filters (`state`, `source`, `entity`, `pass`,
 * `since`) and cursor paging (`limit`, `cursor`; follow `links.next`). A caller sees its own
 * requests, an operator every request, as with GET and DELETE of one request.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { authenticateCaller } from "../core/api-keys.js";
import { listRequests, parseListQuery, renderListEntry } from "../core/list-requests.js";
import type { RequestListDeps } from "../handler-deps.js";
import { awsRequestListDeps } from "../wiring/request-list.js";
import { answering, header, json } from "./http.js";

export function makeRequestListHandler(getDeps: () => RequestListDeps) {
  return async (event: APIGatewayProxyEventV2) => {
    const deps = getDeps();
    return answering(deps.log, async () => {
      const apiKeysSecret = await deps.secrets.get("api-keys");
      const caller = await authenticateCaller(deps.secrets, header(event, "authorization"));
      const query = parseListQuery(event.queryStringParameters);
      const page = await listRequests({ store: deps.store, apiKeysSecret }, query, caller);
      const self = `/api/v1/requests${event.rawQueryString ? `?${event.rawQueryString}` : ""}`;
      const next =
        page.next === undefined
          ? null
          : `/api/v1/requests?${new URLSearchParams({ ...stripCursor(event.queryStringParameters), cursor: page.next })}`;
      return json(200, { data: page.records.map(renderListEntry), links: { self, next } });
    });
  };
}

function stripCursor(query: Record<string, string | undefined> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(query ?? {}))
    if (name !== "cursor" && value !== undefined) kept[name] = value;
  return kept;
}

export const handler = makeRequestListHandler(awsRequestListDeps);
