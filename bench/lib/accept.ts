/**
 * The accept phase both drain benches start with: POST `count` requests to a local stack's trigger
 * route from 20 concurrent posters (a burst, as a busy caller sends it), before any worker runs, so
 * the drain that follows measures the sender alone.
 */
const POSTERS = 20;

export interface AcceptedBurst {
  /** Ids of the requests answered 202, in the order the answers came. */
  ids: string[];
  refused: number;
  seconds: number;
}

export async function acceptBurst(options: {
  url: string;
  apiKey: string;
  entityId: string;
  count: number;
  /** The body of the i-th request (0-based). */
  bodyOf: (i: number) => unknown;
}): Promise<AcceptedBurst> {
  const ids: string[] = [];
  let refused = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: POSTERS }, async () => {
      while (next < options.count) {
        const i = next++;
        const answer = await fetch(`${options.url}/api/v1/entities/${options.entityId}/messaging/wallet`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${options.apiKey}` },
          body: JSON.stringify(options.bodyOf(i)),
        });
        const body = (await answer.json()) as { data?: { id?: string } };
        if (answer.status === 202 && body.data?.id) ids.push(body.data.id);
        else refused++;
      }
    }),
  );
  return { ids, refused, seconds: (performance.now() - started) / 1000 };
}
