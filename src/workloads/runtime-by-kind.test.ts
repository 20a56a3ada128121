import { describe, expect, it } from 'vitest';
import { EndpointsRuntime } from './endpoints-runtime.js';
import { RuntimeByKind } from './runtime-by-kind.js';

describe('RuntimeByKind', () => {
  it('sends each version to the runtime of its kind and reports kinds it cannot run as failed', async () => {
    const endpoints = new EndpointsRuntime();
    const rt = new RuntimeByKind({ endpoints });
    let changes = 0;
    rt.onChange(() => changes++);
    await rt.reconcile([
      { service: 'reviews', version: { name: 'v1', labels: {}, workload: { kind: 'endpoints', addresses: ['127.0.0.1:9001'] } } },
      {
        service: 'reviews',
        version: { name: 'v2', labels: {}, workload: { kind: 'kubernetes', image: 'reviews:v2', env: {}, replicas: 1 } },
      },
    ]);
    expect(rt.supportedKinds()).toEqual(['endpoints']);
    expect(rt.endpoints('reviews', 'v1')).toEqual([{ address: '127.0.0.1:9001', instance: '127.0.0.1:9001', ready: true }]);
    expect(rt.health('reviews', 'v1').ready).toBe(true);
    expect(rt.instances('reviews', 'v1')).toHaveLength(1);
    expect(rt.endpoints('reviews', 'v2')).toEqual([]);
    expect(rt.health('reviews', 'v2')).toEqual({
      ready: false,
      failed: true,
      reason: 'no runtime for "kubernetes" workloads here (available: endpoints)',
    });
    expect(rt.health('ratings', 'v1')).toMatchObject({ ready: false, failed: false });
    expect(changes).toBe(1);
    // every runtime reconciles, so a version that left is stopped
    await rt.reconcile([]);
    expect(endpoints.endpoints('reviews', 'v1')).toEqual([]);
    await rt.stopAll();
  });
});
