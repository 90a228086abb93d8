/** JSON:API documents for batches, in the shapes PassEntry documents. */
import type { BatchView } from "./batch-store.js";

const BATCH_TYPE = "walletMessaging";

export function batchSelfUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/api/v1/batches/${id}`;
}

export function errorsCsvPath(id: string): string {
  return `/files/${id}/errors.csv`;
}

export function deliveryCsvPath(id: string): string {
  return `/files/${id}/delivery.csv`;
}

/** An errors CSV exists when validation failed or delivery had errors. */
export function hasErrorsCsv(view: BatchView): boolean {
  return view.status === "failed" || view.status === "completedWithErrors";
}

/** A delivery CSV exists once sending completed. */
export function hasDeliveryCsv(view: BatchView): boolean {
  return view.status === "successful" || view.status === "completedWithErrors";
}

/** The 202 answer to a create: exactly the attributes of PassEntry's documented example. */
export function createdBatchDocument(view: BatchView, baseUrl: string): unknown {
  return {
    data: {
      id: view.id,
      type: BATCH_TYPE,
      attributes: {
        name: view.name,
        // The create answer always reports the state the batch was accepted in.
        status: "validating",
        tag: view.tag,
        content: view.message,
        scheduledAt: view.scheduledAt,
      },
    },
    links: { self: batchSelfUrl(baseUrl, view.id) },
  };
}

export function batchResource(view: BatchView, baseUrl: string): unknown {
  return {
    id: view.id,
    type: BATCH_TYPE,
    attributes: {
      name: view.name,
      status: view.status,
      tag: view.tag,
      content: view.message,
      scheduledAt: view.scheduledAt,
      totalCount: view.totalCount,
      completedAt: view.completedAtMs === null ? null : new Date(view.completedAtMs).toISOString(),
      errorsCsvUrl: hasErrorsCsv(view) ? baseUrl + errorsCsvPath(view.id) : null,
      deliveryCsvUrl: hasDeliveryCsv(view) ? baseUrl + deliveryCsvPath(view.id) : null,
    },
  };
}

/** Show and cancel answers. */
export function batchDocument(view: BatchView, baseUrl: string): unknown {
  return { data: batchResource(view, baseUrl), links: { self: batchSelfUrl(baseUrl, view.id) } };
}

export interface Page {
  page: number;
  perPage: number;
}

export function batchListDocument(all: BatchView[], { page, perPage }: Page, baseUrl: string): unknown {
  const totalPages = Math.max(1, Math.ceil(all.length / perPage));
  const pageUrl = (n: number) => `${baseUrl}/api/v1/batches?page=${n}&perPage=${perPage}&type=${BATCH_TYPE}`;
  const slice = all.slice((page - 1) * perPage, page * perPage);
  return {
    data: slice.map((view) => batchResource(view, baseUrl)),
    meta: { totalCount: all.length, resultsPerPage: perPage, currentPage: page, totalPages },
    links: {
      first: pageUrl(1),
      prev: page > 1 ? pageUrl(Math.min(page - 1, totalPages)) : null,
      next: page < totalPages ? pageUrl(page + 1) : null,
      last: pageUrl(totalPages),
    },
  };
}

/** Small but plausible CSV files behind the errors/delivery URLs. */
export function errorsCsv(view: BatchView): string {
  const reason =
    view.status === "failed"
      ? "Sandbox: validation failed on request ([[fail-validation]])"
      : "Sandbox: delivery failed on request ([[complete-with-errors]])";
  return `row,error\n1,"${reason}"\n`;
}

export function deliveryCsv(view: BatchView): string {
  const rows = Array.from({ length: view.totalCount ?? 0 }, (_, index) => {
    const failedOnPurpose = view.status === "completedWithErrors" && index === 0;
    return `${index + 1},${failedOnPurpose ? "failed" : "delivered"}`;
  });
  return `${["row,status", ...rows].join("\n")}\n`;
}
