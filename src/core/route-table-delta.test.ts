import { describe, expect, it } from 'vitest';
import { seededRandom as random } from './analysis/analysis-simulation.js';
import { compileRouteTable } from './compile-route-table.js';
import type { Service } from './model.js';
import type { OutboundListener, RouteTable, ServiceRoute } from './route-table.js';
import { applyRouteTableDelta, diffRouteTables, isEmptyRouteTableDelta } from './route-table-delta.js';

const NAMES = Array.from({ length: 12 }, (_, i) => `svc-${String.fromCharCode(97 + i)}`);

function service(rnd: () => number, name: string): ServiceRoute {
  const versions = ['v1', 'v2', 'v3'].slice(0, 1 + Math.floor(rnd() * 3));
  const w = Math.floor(rnd() * 101);
  return {
    name,
    port: 9000 + Math.floor(rnd() * 3),
    ingressPaths: rnd() < 0.3 ? [`/${name}`] : [],
    release: rnd() < 0.3 ? `${name}-canary` : null,
    versions: versions.map((v) => ({
      name: v,
      endpoints: [{ address: `127.0.0.1:${10_000 + Math.floor(rnd() * 5)}`, instance: `${name}-${v}-1`, ready: rnd() < 0.8 }],
    })),
    rules: [
      ...(rnd() < 0.5 ? [{ match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ version: 'v1', weight: 100 }] }] : []),
      {
        route: [
          { version: 'v1', weight: w },
          { version: 'v2', weight: 100 - w },
        ],
      },
    ],
  };
}

function listener(rnd: () => number, port: number): OutboundListener {
  const name = NAMES[Math.floor(rnd() * NAMES.length)]!;
  return { port, service: name, version: rnd() < 0.5 ? 'v1' : 'v2', instance: `${name}-${Math.floor(rnd() * 3)}` };
}

/** A table as compileRouteTable makes them: services sorted by name, listeners by port. */
function table(rnd: () => number, revision: number): RouteTable {
  return {
    revision,
    generatedAt: new Date(revision * 1000).toISOString(),
    services: NAMES.filter(() => rnd() < 0.6).map((n) => service(rnd, n)),
    listeners: [15001, 15002, 15003, 15004, 15005].filter(() => rnd() < 0.5).map((p) => listener(rnd, p)),
  };
}

/** B from A: some services removed, some added, some changed, the rest the same; listeners likewise. */
function mutate(rnd: () => number, a: RouteTable): RouteTable {
  const byName = new Map(a.services.map((s) => [s.name, s]));
  const services: ServiceRoute[] = [];
  for (const name of NAMES) {
    const old = byName.get(name);
    const roll = rnd();
    if (old === undefined) {
      if (roll < 0.3) services.push(service(rnd, name));
    } else if (roll < 0.15) {
      // removed
    } else if (roll < 0.4) services.push(service(rnd, name));
    else if (roll < 0.5)
      services.push(structuredClone(old)); // same content, another object
    else services.push(old);
  }
  const listeners = [15001, 15002, 15003, 15004, 15005, 15006].flatMap((port) => {
    const old = a.listeners.find((l) => l.port === port);
    const roll = rnd();
    if (old === undefined) return roll < 0.3 ? [listener(rnd, port)] : [];
    if (roll < 0.2) return [];
    if (roll < 0.4) return [listener(rnd, port)];
    return [old];
  });
  return { revision: a.revision + 1, generatedAt: new Date((a.revision + 1) * 1000).toISOString(), services, listeners };
}

describe('route table deltas', () => {
  it('applying the delta of A -> B to A gives B, for 500 random pairs (adds, removes, changes, listeners)', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rnd = random(seed);
      const a = table(rnd, seed);
      const b = mutate(rnd, a);
      const before = structuredClone(a);
      const delta = diffRouteTables(a, b);
      expect(delta, `seed ${seed}`).not.toBeNull();
      const applied = applyRouteTableDelta(a, delta!);
      expect(applied, `seed ${seed}`).toEqual(b);
      expect(a, `seed ${seed}: the base is left alone`).toEqual(before);
      // Minimal: only services whose content changed are sent, and only names that left are removed.
      const aByName = new Map(a.services.map((s) => [s.name, JSON.stringify(s)]));
      for (const s of delta!.services.upsert) expect(aByName.get(s.name), `seed ${seed}`).not.toBe(JSON.stringify(s));
      expect(delta!.services.remove.sort()).toEqual(a.services.map((s) => s.name).filter((n) => !b.services.some((s) => s.name === n)));
    }
  });

  it('an unchanged table gives an empty delta that keeps every entry as the same object', () => {
    const a = table(random(42), 3);
    const b = { ...structuredClone(a), revision: 4 };
    const delta = diffRouteTables(a, b)!;
    expect(isEmptyRouteTableDelta(delta)).toBe(true);
    expect(delta).toMatchObject({ fromRevision: 3, revision: 4 });
    const applied = applyRouteTableDelta(a, delta);
    expect(applied.revision).toBe(4);
    expect(applied.services.every((s, i) => s === a.services[i])).toBe(true);
  });

  it('one changed service of many travels alone', () => {
    const rnd = random(7);
    const services = Array.from({ length: 1000 }, (_, i) => service(rnd, `svc-${String(i).padStart(4, '0')}`));
    const a: RouteTable = { revision: 1, generatedAt: 'x', services, listeners: [] };
    const changed = { ...services[500]!, rules: [{ route: [{ version: 'v3', weight: 100 }] }] };
    const b: RouteTable = { ...a, revision: 2, services: services.map((s, i) => (i === 500 ? changed : s)) };
    const delta = diffRouteTables(a, b)!;
    expect(delta.services).toEqual({ upsert: [changed], remove: [] });
    expect(JSON.stringify(delta).length).toBeLessThan(JSON.stringify(b).length / 100);
    expect(applyRouteTableDelta(a, delta)).toEqual(b);
  });

  it('refuses a delta for another revision', () => {
    const a = table(random(1), 5);
    const delta = diffRouteTables(a, mutate(random(2), a))!;
    expect(() => applyRouteTableDelta({ ...a, revision: 4 }, delta)).toThrow(/from revision 5 cannot apply to revision 4/);
  });

  it('gives no delta (send the whole table) when a delta could not reproduce the target exactly', () => {
    const rnd = random(9);
    const x = service(rnd, 'svc-x');
    const y = service(rnd, 'svc-y');
    const z = service(rnd, 'svc-z');
    const base: RouteTable = { revision: 1, generatedAt: 'a', services: [x, z], listeners: [] };
    // reordered
    expect(diffRouteTables(base, { ...base, revision: 2, services: [z, x] })).toBeNull();
    // a new service outside key order
    expect(diffRouteTables(base, { ...base, revision: 2, services: [x, z, y] })).toBeNull();
    // a name twice
    expect(diffRouteTables(base, { ...base, revision: 2, services: [x, x, z] })).toBeNull();
    // in key order: fine
    const sorted = { ...base, revision: 2, services: [x, y, z] };
    expect(applyRouteTableDelta(base, diffRouteTables(base, sorted)!)).toEqual(sorted);
  });

  it('a restarted instance (same ports, new pid) is a delta carrying its new pid, and only its own entries', () => {
    const svc = (name: string): Service => ({
      name,
      port: 9080,
      versions: [{ name: 'v1', labels: {}, workload: { kind: 'process', command: 'node', args: [], env: {}, replicas: 1 } }],
      routes: [{ route: [{ version: 'v1', weight: 100 }] }],
      resourceVersion: '1',
      createdAt: 'x',
      updatedAt: 'x',
      createdBy: 'test',
    });
    const compile = (revision: number, reviewsPid: number) =>
      compileRouteTable({
        revision,
        services: [svc('details'), svc('reviews')],
        releases: [],
        endpoints: (service) => [
          {
            address: `127.0.0.1:${service === 'reviews' ? 9001 : 9002}`,
            instance: `${service}-v1-1`,
            ready: true,
            pid: service === 'reviews' ? reviewsPid : 300,
          },
        ],
        listeners: [
          { port: 15002, service: 'reviews', version: 'v1', instance: 'reviews-v1-1', pid: reviewsPid },
          { port: 15001, service: 'details', version: 'v1', instance: 'details-v1-1', pid: 300 },
        ],
        now: 'x',
      });
    const a = compile(1, 100);
    const b = compile(2, 101);
    expect(b.services[1]!.versions[0]!.endpoints[0]).toEqual({
      address: '127.0.0.1:9001',
      instance: 'reviews-v1-1',
      ready: true,
      pid: 101,
    });
    const delta = diffRouteTables(a, b)!;
    expect(delta.services.upsert.map((s) => s.name)).toEqual(['reviews']);
    expect(delta.listeners.upsert).toEqual([{ port: 15002, service: 'reviews', version: 'v1', instance: 'reviews-v1-1', pid: 101 }]);
    expect(applyRouteTableDelta(a, delta)).toEqual(b);
  });
});
