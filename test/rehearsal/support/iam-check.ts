/**
 * Decides, offline, what AWS IAM would decide for a request: `@cloud-copilot/iam-simulate` evaluates
 * a role's identity policies (and, for resource-policy checks, the resource's policy) the way IAM
 * does. Managed policies are evaluated from their published documents where we know them; any other
 * managed ARN is reported rather than assumed to allow.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument, RoleView } from "../../infra/synthesis/stack-model.js";

/** AWS-managed policies a Lambda role commonly carries, as AWS publishes them. */
const KNOWN_MANAGED_POLICIES: Record<string, PolicyDocument> = {
  "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], Resource: "*" },
    ],
  },
};

export type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

export interface IamDecision {
  decision: Decision;
  /** Set when the simulator refused the request itself (unknown action, resource of the wrong type). */
  invalid?: string;
}

export class IamChecker {
  private readonly cache = new Map<string, Promise<IamDecision>>();

  constructor(private readonly accountId: string) {}

  /** Managed policy ARNs on the role that we cannot evaluate (their documents are not known here). */
  unknownManagedPolicies(role: RoleView): string[] {
    return role.managedPolicyArns.filter((arn) => !KNOWN_MANAGED_POLICIES[arn]);
  }

  /** What IAM decides when `role` (assumed by a Lambda) calls `action` on `resource`. */
  check(role: RoleView, action: string, resource: string): Promise<IamDecision> {
    const key = `${role.arn}|${JSON.stringify(role.policies)}|${action}|${resource}`;
    let decision = this.cache.get(key);
    if (!decision) {
      decision = this.simulate(role, action, resource);
      this.cache.set(key, decision);
    }
    return decision;
  }

  /**
   * What a resource policy decides for a service principal (e.g. EventBridge delivering to a queue).
   * Same-account service principals need the resource policy to allow them.
   */
  async checkServiceDelivery(
    resourcePolicy: PolicyDocument | undefined,
    service: string,
    action: string,
    resource: string,
    sourceArn: string,
  ): Promise<IamDecision> {
    if (!resourcePolicy) return { decision: "ImplicitlyDenied" };
    const result = await runSimulation(
      {
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: resourcePolicy as any,
        request: {
          action,
          principal: service,
          resource: { accountId: this.accountId, resource },
          contextVariables: { "aws:SourceArn": sourceArn, "aws:SourceAccount": this.accountId },
        },
      } as any,
      {},
    );
    return toDecision(result);
  }

  private async simulate(role: RoleView, action: string, resource: string): Promise<IamDecision> {
    const identityPolicies = [
      ...role.policies.map((p, i) => ({ name: `${p.source}#${i}`, policy: p.document })),
      ...role.managedPolicyArns
        .filter((arn) => KNOWN_MANAGED_POLICIES[arn])
        .map((arn) => ({ name: arn, policy: KNOWN_MANAGED_POLICIES[arn]! })),
    ];
    const result = await runSimulation(
      {
        identityPolicies: identityPolicies as any,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action,
          principal: `arn:aws:sts::${this.accountId}:assumed-role/${role.name}/rehearsal`,
          resource: { accountId: this.accountId, resource },
          contextVariables: {},
        },
      } as any,
      {},
    );
    return toDecision(result);
  }
}

function toDecision(result: any): IamDecision {
  if (result.resultType === "error")
    return { decision: "ImplicitlyDenied", invalid: JSON.stringify(result.errors).slice(0, 500) };
  return { decision: result.overallResult as Decision };
}
