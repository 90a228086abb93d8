/**
 * Broken copies of a synthesis, to prove the rehearsal fails the way AWS would: a table keyed as
 * before issue 12 (hash key only), and a role missing one permission its function needs.
 */
import type { PolicyDocument, PolicyStatement } from "../../infra/synthesis/stack-model.js";
import type { Synthesis } from "../../infra/synthesis/types.js";

const clone = (synthesis: Synthesis): Synthesis => structuredClone(synthesis);

/** Every table keyed by its hash key alone, as `infra/ledger.ts` defined it before issue 12. */
export function withHashKeyOnlyTables(synthesis: Synthesis): Synthesis {
  const changed = clone(synthesis);
  for (const table of changed.resources.filter((r) => r.type === "aws:dynamodb/table:Table")) {
    const hashKey = table.inputs.hashKey as string;
    for (const side of [table.inputs, table.state]) {
      delete side.rangeKey;
      // Before issue 12 the table had no index either (the request list came with issue 16).
      delete side.globalSecondaryIndexes;
      side.attributes = (side.attributes as { name: string }[]).filter((a) => a.name === hashKey);
    }
  }
  return changed;
}

const list = (value: string | string[] | undefined) =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * The synthesis with `action` on `resource` taken out of the inline policies of every role whose
 * function runs `sourceHandler`: the resource leaves each statement granting that action (a
 * statement left with no resource goes), other actions on it stay as they were.
 */
export function withoutPermission(
  synthesis: Synthesis,
  change: { sourceHandler: string; action: string; resource: string },
): Synthesis {
  const changed = clone(synthesis);
  const components = new Set(
    changed.builds.filter((b) => b.sourceHandler === change.sourceHandler).map((b) => b.functionId),
  );
  const roleArns = new Set(
    changed.resources
      .filter(
        (r) =>
          r.type === "aws:lambda/function:Function" &&
          components.has(r.parent?.slice(r.parent.lastIndexOf("::") + 2) ?? ""),
      )
      .map((r) => r.inputs.role as string),
  );
  if (roleArns.size === 0) throw new Error(`No synthesized function runs ${change.sourceHandler}.`);
  let removed = 0;
  for (const role of changed.resources.filter(
    (r) => r.type === "aws:iam/role:Role" && roleArns.has(r.state.arn as string),
  )) {
    for (const inline of (role.inputs.inlinePolicies ?? []) as { policy: string }[]) {
      const document = JSON.parse(inline.policy) as PolicyDocument;
      const statements: PolicyStatement[] = [];
      for (const statement of document.Statement) {
        const grants =
          statement.Effect === "Allow" &&
          list(statement.Action).some(
            (a) => a === change.action || (a.endsWith("*") && change.action.startsWith(a.slice(0, -1))),
          );
        const resources = list(statement.Resource);
        if (!grants || !resources.includes(change.resource)) {
          statements.push(statement);
          continue;
        }
        removed++;
        const rest = resources.filter((r) => r !== change.resource);
        if (rest.length > 0) statements.push({ ...statement, Resource: rest });
        // Other actions of the statement keep the resource.
        const otherActions = list(statement.Action).filter((a) => a !== change.action);
        if (otherActions.length > 0 && !list(statement.Action).some((a) => a.endsWith("*")))
          statements.push({ ...statement, Action: otherActions, Resource: [change.resource] });
      }
      inline.policy = JSON.stringify({ ...document, Statement: statements });
    }
    role.state.inlinePolicies = role.inputs.inlinePolicies;
  }
  if (removed === 0)
    throw new Error(`No statement of ${change.sourceHandler}'s role grants ${change.action} on ${change.resource}.`);
  return changed;
}
