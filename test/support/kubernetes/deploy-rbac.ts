import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { KubeObject } from '../../../src/kubernetes/index.js';
import type { FakeUser } from './fake-api-server.js';

/** The service account of the control plane as deploy/base creates it, in `namespace`. */
export function controlPlaneUser(namespace: string): FakeUser {
  return {
    user: `system:serviceaccount:${namespace}:canary-mesh`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
  };
}

/**
 * The RBAC objects of deploy/base (Role and RoleBinding), as `kubectl apply -k deploy/base -n NAMESPACE`
 * creates them, for the fake API server to authorize the control plane's requests with.
 */
export function deployRbac(namespace: string, dir = new URL('../../../deploy/base/', import.meta.url)): KubeObject[] {
  return ['role.yaml', 'role-binding.yaml'].map((file) => {
    const o = parse(readFileSync(new URL(file, dir), 'utf8')) as KubeObject;
    return { ...o, metadata: { ...o.metadata, namespace } };
  });
}
