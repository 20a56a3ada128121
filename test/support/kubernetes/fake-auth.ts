import type { KubeObject, ResourceType } from '../../../src/kubernetes/index.js';

/**
 * Authentication and authorization of the fake API server, as a real one does them: bearer tokens mapped to
 * users (401 otherwise), and RBAC evaluated from Role / RoleBinding / ClusterRole / ClusterRoleBinding
 * objects (e.g. the manifests in deploy/), answering 403 with the API server's message. Without tokens,
 * every request is an administrator's (group system:masters), as the fake was before.
 */

export interface FakeUser {
  user: string;
  groups?: string[];
}

interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

export class FakeAuth {
  private readonly tokens: Map<string, FakeUser> | null;
  private readonly rbac: KubeObject[];

  constructor(tokens?: Record<string, FakeUser>, rbac?: KubeObject[]) {
    this.tokens = tokens ? new Map(Object.entries(tokens)) : null;
    this.rbac = structuredClone(rbac ?? []);
  }

  setToken(token: string, user: FakeUser): void {
    if (!this.tokens) throw new Error('FakeApiServer was started without authentication (options.tokens)');
    this.tokens.set(token, user);
  }

  revokeToken(token: string): void {
    this.tokens?.delete(token);
  }

  /** The RBAC verb of a request on a collection (no name) or an object. */
  static verbOf(method: string, name: string | undefined): string {
    switch (method) {
      case 'GET':
        return name === undefined ? 'list' : 'get';
      case 'POST':
        return 'create';
      case 'PUT':
        return 'update';
      case 'PATCH':
        return 'patch';
      case 'DELETE':
        return name === undefined ? 'deletecollection' : 'delete';
      default:
        return method.toLowerCase();
    }
  }

  /** The user of a request; without `tokens` every request is an administrator's. */
  authenticate(authorization: string): FakeUser | undefined {
    if (!this.tokens) return { user: 'kubernetes-admin', groups: ['system:masters'] };
    const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    return m ? this.tokens.get(m[1]!) : undefined;
  }

  /** Why `user` may not `verb` the resource (the API server's message), or undefined when RBAC allows it. */
  forbidden(user: FakeUser, verb: string, type: ResourceType, namespace: string, name?: string): string | undefined {
    if (user.groups?.includes('system:masters')) return undefined;
    const allowed = this.rulesFor(user, namespace).some(
      (r) =>
        (r.apiGroups ?? []).some((g) => g === '*' || g === type.group) &&
        (r.resources ?? []).some((x) => x === '*' || x === type.plural) &&
        r.verbs.some((v) => v === '*' || v === verb) &&
        (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name))),
    );
    if (allowed) return undefined;
    const what = `${type.plural}${type.group ? `.${type.group}` : ''}${name !== undefined ? ` "${name}"` : ''}`;
    return `${what} is forbidden: User "${user.user}" cannot ${verb} resource "${type.plural}" in API group "${type.group}" in the namespace "${namespace}"`;
  }

  private rulesFor(user: FakeUser, namespace: string): RbacRule[] {
    const of = (kind: string) => this.rbac.filter((o) => o.kind === kind);
    const roleRules = (kind: string, name: string, ns?: string) =>
      (of(kind).find((r) => r.metadata.name === name && (ns === undefined || r.metadata.namespace === ns))?.rules as
        | RbacRule[]
        | undefined) ?? [];
    const applies = (binding: KubeObject, bindingNs: string | undefined) =>
      ((binding.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? []).some((s) => {
        // A ServiceAccount subject without a namespace means the binding's own namespace.
        if (s.kind === 'ServiceAccount') return user.user === `system:serviceaccount:${s.namespace ?? bindingNs}:${s.name}`;
        if (s.kind === 'User') return user.user === s.name;
        if (s.kind === 'Group') return user.groups?.includes(s.name) ?? false;
        return false;
      });
    const rules: RbacRule[] = [];
    for (const b of of('RoleBinding')) {
      if (b.metadata.namespace !== namespace || !applies(b, namespace)) continue;
      const ref = b.roleRef as { kind: string; name: string };
      rules.push(...(ref.kind === 'ClusterRole' ? roleRules('ClusterRole', ref.name) : roleRules('Role', ref.name, namespace)));
    }
    for (const b of of('ClusterRoleBinding')) {
      if (!applies(b, undefined)) continue;
      rules.push(...roleRules('ClusterRole', (b.roleRef as { name: string }).name));
    }
    return rules;
  }
}
