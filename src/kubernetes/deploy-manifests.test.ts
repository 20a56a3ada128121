import { readFileSync } from 'node:fs';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type KubeObject, RESOURCES } from './kube-object.js';
import { validateObject } from '../../test/support/kubernetes/validate-object.js';

const base = new URL('../../deploy/base/', import.meta.url);
const read = (file: string) => parse(readFileSync(new URL(file, base), 'utf8')) as KubeObject & Record<string, unknown>;

describe('deploy/base (Kustomize)', () => {
  const kustomization = read('kustomization.yaml') as unknown as { resources: string[] };

  it('lists manifests that are all schema-valid', () => {
    expect(kustomization.resources.sort()).toEqual([
      'deployment.yaml',
      'role-binding.yaml',
      'role.yaml',
      'service-account.yaml',
      'service.yaml',
    ]);
    validateObject(read('deployment.yaml'));
    validateObject(read('service.yaml'));
    new ServiceAccount(read('service-account.yaml') as never).validate();
    new Role(read('role.yaml') as never).validate();
    new RoleBinding(read('role-binding.yaml') as never).validate();
  });

  it('grants exactly the resources the backend touches, namespaced, with no secrets and no wildcards', () => {
    const role = read('role.yaml') as unknown as { kind: string; rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    expect(role.kind).toBe('Role');
    const granted = role.rules.flatMap((r) => r.resources.map((res) => `${r.apiGroups[0]}/${res}`)).sort();
    const used = Object.values(RESOURCES)
      .map((t) => `${t.group}/${t.plural}`)
      .sort();
    expect(granted).toEqual(used);
    const text = JSON.stringify(role.rules);
    expect(text).not.toContain('*');
    expect(text).not.toContain('secrets');
    const verbs = (res: string) => role.rules.find((r) => r.resources.includes(res))!.verbs;
    expect(verbs('pods')).toEqual(['get', 'list', 'watch']);
    expect(verbs('virtualservices')).not.toContain('delete');
  });

  it('runs the control plane as a non-root user with its own service account, bound to that Role', () => {
    const d = read('deployment.yaml') as unknown as {
      spec: { template: { spec: Record<string, unknown> & { containers: { args: string[] }[] } } };
    };
    expect(d.spec.template.spec.serviceAccountName).toBe('canary-mesh');
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(d.spec.template.spec.containers[0]!.args).toContain('--kubernetes');
    const binding = read('role-binding.yaml') as unknown as { roleRef: { name: string }; subjects: { name: string }[] };
    expect([binding.roleRef.name, binding.subjects[0]!.name]).toEqual(['canary-mesh', 'canary-mesh']);
  });
});
