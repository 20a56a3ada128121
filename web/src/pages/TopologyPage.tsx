import { Anchor, Badge, Button, Card, Code, Group, Loader, Select, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { useDemoTraffic, useDemoTrafficState, useTopology } from '../api/observability.js';
import type { Topology, TopologyEdge } from '../api/types.js';
import { useCan } from '../api/whoami.js';
import { EChart, type EChartOption } from '../components/EChart.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { pushToast } from '../components/notifications.js';
import { edgeId, formatPercent, formatRate, healthColor, healthOf } from '../topology/build-elements.js';
import { TopologyGraph } from '../topology/TopologyGraph.js';

interface Point {
  at: number;
  rate: number;
  success: number;
  p95: number | null;
}

/** What a selected node or edge shows: for a node, the sum of the traffic it received. */
function statsFor(topology: Topology, id: string): (TopologyEdge & { label: string }) | null {
  const edge = topology.edges.find((e) => edgeId(e) === id);
  if (edge) return { ...edge, label: `${nodeLabel(topology, edge.source)} → ${nodeLabel(topology, edge.target)}` };
  const node = topology.nodes.find((n) => n.id === id);
  if (!node) return null;
  if (node.rate !== undefined && (node.p50 !== undefined || node.codes)) {
    const label = node.version ? `${node.service} ${node.version}` : (node.service ?? node.id);
    return {
      source: '',
      target: id,
      rate: node.rate,
      successRate: node.successRate ?? 1,
      p50: node.p50,
      p95: node.p95,
      p99: node.p99,
      codes: node.codes,
      label,
    };
  }
  // A service node receives what any of its versions receives.
  const members = new Set(node.kind === 'service' ? topology.nodes.filter((n) => n.service === node.service).map((n) => n.id) : [id]);
  const incoming = topology.edges.filter((e) => members.has(e.target));
  const rate = incoming.reduce((a, e) => a + e.rate, 0);
  const success = rate ? incoming.reduce((a, e) => a + e.rate * e.successRate, 0) / rate : (node.successRate ?? 0);
  const codes: Record<string, number> = {};
  for (const e of incoming) for (const [c, n] of Object.entries(e.codes ?? {})) codes[c] = (codes[c] ?? 0) + n;
  const max = (k: 'p50' | 'p95' | 'p99') => {
    const vals = incoming.map((e) => e[k]).filter((v): v is number => typeof v === 'number');
    return vals.length ? Math.max(...vals) : undefined;
  };
  return {
    source: '',
    target: id,
    rate: rate || (node.rate ?? 0),
    successRate: success,
    p50: max('p50'),
    p95: max('p95'),
    p99: max('p99'),
    codes,
    label: node.version ? `${node.service} ${node.version}` : (node.service ?? node.id),
  };
}

export function TopologyPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const windowSeconds = Number(params.get('window') ?? 60) || 60;
  const selected = params.get('selected');
  const topology = useTopology(windowSeconds);
  const demo = useDemoTraffic();
  const demoState = useDemoTrafficState();
  const demoOn = demoState.data?.enabled ?? false;
  const history = useRef(new Map<string, Point[]>());
  const [tick, setTick] = useState(0);

  const set = (k: string, v: string | null) => {
    const next = new URLSearchParams(params);
    if (v === null) next.delete(k);
    else next.set(k, v);
    setParams(next, { replace: k === 'selected' });
  };

  // Keep a short history per node and edge, so the side panel can draw rate and success over time.
  useEffect(() => {
    const data = topology.data;
    if (!data) return;
    const now = Date.now();
    const ids = [...data.edges.map(edgeId), ...data.nodes.map((n) => n.id)];
    for (const id of ids) {
      const s = statsFor(data, id);
      if (!s) continue;
      const list = history.current.get(id) ?? [];
      list.push({ at: now, rate: s.rate, success: s.successRate * 100, p95: s.p95 ?? null });
      if (list.length > 90) list.shift();
      history.current.set(id, list);
    }
    setTick((x) => x + 1);
  }, [topology.data]);

  const canDemo = useCan('demo:write');
  const toggleDemo = () => {
    const enabled = !demoOn;
    demo.mutate(
      { enabled, rate: 2 },
      {
        onSuccess: () => {
          pushToast({
            color: 'green',
            title: t('topology.demoTitle'),
            message: enabled ? t('topology.demoStarted') : t('topology.demoStopped'),
            details: [],
          });
        },
      },
    );
  };

  const empty = topology.data && topology.data.edges.length === 0;
  const stats = topology.data && selected ? statsFor(topology.data, selected) : null;

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>{t('topology.title')}</Title>
          <Text c="dimmed" size="sm">
            {t('topology.subtitle')}
          </Text>
        </div>
        <Group>
          <Select
            w={150}
            aria-label={t('topology.window')}
            value={String(windowSeconds)}
            onChange={(v) => set('window', v)}
            data={[
              { value: '60', label: t('topology.last', { n: 1, unit: t('topology.minute') }) },
              { value: '300', label: t('topology.last', { n: 5, unit: t('topology.minutes') }) },
              { value: '900', label: t('topology.last', { n: 15, unit: t('topology.minutes') }) },
            ]}
            data-test="topology-window"
          />
          <Button
            variant={demoOn ? 'filled' : 'light'}
            color={demoOn ? 'red' : 'indigo'}
            onClick={toggleDemo}
            disabled={!canDemo}
            loading={demo.isPending}
            data-test="demo-traffic"
          >
            {demoOn ? t('topology.stopDemo') : t('topology.startDemo')}
          </Button>
        </Group>
      </Group>
      <ErrorAlert error={topology.error} />
      {demo.error && <ErrorAlert error={demo.error} title={t('topology.demoFailed')} />}
      {topology.isLoading && <Loader size="sm" aria-label={t('common.loading')} />}
      {empty && (
        <EmptyState
          title={t('topology.emptyTitle')}
          hint={t('topology.emptyHint', { seconds: windowSeconds })}
          test="topology-empty"
          action={
            <Code block style={{ fontSize: 12 }}>
              {`watch -n 0.5 "curl -s ${demoState.data?.url ?? 'http://127.0.0.1:8000/productpage'}?u=normal > /dev/null"`}
            </Code>
          }
        />
      )}
      {topology.data && topology.data.nodes.length > 0 && (
        <SimpleGrid cols={{ base: 1, lg: 3 }}>
          <Card withBorder padding="xs" style={{ gridColumn: 'span 2' }}>
            <TopologyGraph
              topology={topology.data}
              selected={selected}
              onSelect={(id) => set('selected', id)}
              label={t('topology.graphLabel')}
            />
            <Group gap="md" p="xs">
              {(['healthy', 'degraded', 'failing', 'idle'] as const).map((h) => (
                <Group gap={4} key={h}>
                  <div style={{ width: 18, height: 3, background: healthColor[h] }} />
                  <Text size="xs">{t(`topology.health.${h}`)}</Text>
                </Group>
              ))}
            </Group>
          </Card>
          <Card withBorder data-test="topology-panel" style={{ alignSelf: 'start' }}>
            {stats ? (
              <SidePanel id={selected ?? ''} stats={stats} history={history.current.get(selected ?? '') ?? []} tick={tick} />
            ) : (
              <Text size="sm" c="dimmed">
                {t('topology.pickHint')}
              </Text>
            )}
          </Card>
        </SimpleGrid>
      )}
      {topology.data && topology.data.edges.length > 0 && (
        <CallsTable topology={topology.data} selected={selected} onSelect={(id) => set('selected', id)} />
      )}
    </Stack>
  );
}

function nodeLabel(topology: Topology, id: string): string {
  const n = topology.nodes.find((x) => x.id === id);
  if (!n) return id;
  if (n.kind === 'ingress') return 'ingress';
  return n.version ? `${n.service} ${n.version}` : (n.service ?? n.id);
}

/** The graph's calls as a table: readable without the canvas (screen readers, copy), and a way to select. */
function CallsTable({ topology, selected, onSelect }: { topology: Topology; selected: string | null; onSelect: (id: string) => void }) {
  const { t } = useTranslation();
  const ms = (v?: number) => (typeof v === 'number' ? `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms` : '—');
  const edges = [...topology.edges].sort((a, b) => edgeId(a).localeCompare(edgeId(b)));
  return (
    <Card withBorder padding={0}>
      <Title order={3} size="h5" p="sm" pb={0}>
        {t('topology.calls')}
      </Title>
      <Table verticalSpacing={4} highlightOnHover data-test="topology-calls">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('topology.from')}</Table.Th>
            <Table.Th>{t('topology.to')}</Table.Th>
            <Table.Th ta="right">{t('topology.rate')}</Table.Th>
            <Table.Th ta="right">{t('topology.share')}</Table.Th>
            <Table.Th ta="right">{t('topology.success')}</Table.Th>
            <Table.Th ta="right">p50 / p95 / p99</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {edges.map((e) => {
            const id = edgeId(e);
            const health = healthOf(e.rate, e.successRate);
            return (
              <Table.Tr
                key={id}
                data-test="topology-edge"
                data-source={e.source}
                data-target={e.target}
                bg={id === selected ? 'var(--mantine-color-indigo-light)' : undefined}
              >
                <Table.Td>
                  <Anchor
                    component="button"
                    type="button"
                    size="sm"
                    onClick={() => onSelect(e.source)}
                    data-test="select-node"
                    data-node={e.source}
                  >
                    {nodeLabel(topology, e.source)}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Anchor
                    component="button"
                    type="button"
                    size="sm"
                    onClick={() => onSelect(e.target)}
                    data-test="select-node"
                    data-node={e.target}
                  >
                    {nodeLabel(topology, e.target)}
                  </Anchor>
                </Table.Td>
                <Table.Td ta="right">
                  <Anchor component="button" type="button" size="sm" onClick={() => onSelect(id)} data-test="edge-rate">
                    {formatRate(e.rate)} rps
                  </Anchor>
                </Table.Td>
                <Table.Td ta="right" data-test="edge-share">
                  {typeof e.share === 'number' ? formatPercent(e.share) : '—'}
                </Table.Td>
                <Table.Td ta="right">
                  <Group gap={6} justify="flex-end" wrap="nowrap">
                    <div style={{ width: 8, height: 8, borderRadius: 4, background: healthColor[health] }} aria-hidden />
                    <Text size="sm">{e.rate ? formatPercent(e.successRate) : '—'}</Text>
                  </Group>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="sm">
                    {ms(e.p50)} / {ms(e.p95)} / {ms(e.p99)}
                  </Text>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function SidePanel({ stats, history, tick }: { id: string; stats: TopologyEdge & { label: string }; history: Point[]; tick: number }) {
  const { t } = useTranslation();
  const health = healthOf(stats.rate, stats.successRate);
  const ms = (v?: number) => (typeof v === 'number' ? `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms` : '—');
  const chart = (title: string, pick: (p: Point) => number | null, color: string, unit: string): EChartOption => ({
    animation: false,
    title: { text: title, textStyle: { fontSize: 11, fontWeight: 'normal' } },
    grid: { left: 40, right: 8, top: 24, bottom: 20 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'time', axisLabel: { show: false } },
    yAxis: { type: 'value', min: 0, axisLabel: { formatter: `{value}${unit}`, fontSize: 9 } },
    series: [{ type: 'line', showSymbol: false, color, areaStyle: { opacity: 0.15 }, data: history.map((p) => [p.at, pick(p)]) }],
  });
  // biome-ignore lint/correctness/useExhaustiveDependencies: redraw once per poll (tick)
  const rateOpt = useMemo(() => chart(t('topology.rate'), (p) => p.rate, '#4c6ef5', ''), [tick, t]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: redraw once per poll (tick)
  const successOpt = useMemo(() => chart(t('topology.success'), (p) => p.success, '#2f9e44', '%'), [tick, t]);
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={3} size="h5" data-test="panel-title">
          {stats.label}
        </Title>
        <Badge color={healthColor[health]} variant="light" style={{ color: 'var(--mantine-color-dark-7)' }}>
          {t(`topology.health.${health}`)}
        </Badge>
      </Group>
      <Table verticalSpacing={4}>
        <Table.Tbody>
          <Table.Tr>
            <Table.Td>{t('topology.rate')}</Table.Td>
            <Table.Td data-test="panel-rate">{formatRate(stats.rate)} rps</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td>{t('topology.success')}</Table.Td>
            <Table.Td>{stats.rate ? formatPercent(stats.successRate) : '—'}</Table.Td>
          </Table.Tr>
          {typeof stats.share === 'number' && (
            <Table.Tr>
              <Table.Td>{t('topology.share')}</Table.Td>
              <Table.Td data-test="panel-share">{formatPercent(stats.share)}</Table.Td>
            </Table.Tr>
          )}
          <Table.Tr>
            <Table.Td>p50 / p95 / p99</Table.Td>
            <Table.Td>
              {ms(stats.p50)} / {ms(stats.p95)} / {ms(stats.p99)}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td>{t('topology.codes')}</Table.Td>
            <Table.Td>
              <Group gap={4}>
                {Object.entries(stats.codes ?? {}).map(([code, n]) => (
                  <Badge
                    key={code}
                    size="sm"
                    variant="light"
                    color={code.startsWith('5') ? 'red' : code.startsWith('4') ? 'orange' : 'teal'}
                    tt="none"
                  >
                    {code}: {formatRate(n)}
                  </Badge>
                ))}
              </Group>
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      <EChart option={rateOpt} height={110} label={t('topology.rate')} />
      <EChart option={successOpt} height={110} label={t('topology.success')} />
    </Stack>
  );
}
