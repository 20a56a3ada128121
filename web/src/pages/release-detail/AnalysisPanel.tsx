import { Badge, Button, Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type AnalysisStatus, useAnalysisAction } from '../../api/analysis.js';
import type { Release } from '../../api/types.js';
import { useCan } from '../../api/whoami.js';
import { ConfirmModal } from '../../components/ConfirmModal.js';
import { EChart, type EChartOption } from '../../components/EChart.js';
import { notifyError, pushToast } from '../../components/notifications.js';

const verdictColor: Record<string, string> = { passing: 'teal', failing: 'red', inconclusive: 'yellow' };
const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${v.toFixed(2)} %` : '—');
const ms = (v: number | null | undefined) => (typeof v === 'number' ? `${Math.round(v * 10) / 10} ms` : '—');

type StepSpec = { setWeight?: number; pause?: { duration?: string } };

/**
 * A release's automated analysis on its job page: the step timeline, the live verdict with its evidence (both
 * versions' success rate and latency per check over time, each test's progress toward its bound) and Promote /
 * Abort, which work at any moment (also while paused).
 */
export function AnalysisPanel({ release }: { release: Release }) {
  const { t } = useTranslation();
  const canChange = useCan('releases:write');
  const action = useAnalysisAction(release.name);
  const [asking, setAsking] = useState<'promote' | 'abort' | null>(null);
  const a = release.status.analysis as AnalysisStatus | undefined;
  const steps: StepSpec[] = release.analysis?.steps ?? [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }];
  const history = a?.history ?? [];
  const b = release.baseline;
  const c = release.candidate.name;
  const active = a ? !['failed', 'aborted', 'promoting'].includes(a.state) : true;

  const successOption = useMemo<EChartOption>(
    () => ({
      animation: false,
      grid: { left: 48, right: 16, top: 28, bottom: 28 },
      tooltip: { trigger: 'axis' },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: 'time', axisLabel: { fontSize: 10, formatter: '{HH}:{mm}:{ss}', hideOverlap: true } },
      yAxis: { type: 'value', max: 100, scale: true, axisLabel: { formatter: '{value}%', fontSize: 10 } },
      series: [
        {
          name: t('analysis.successOf', { version: b }),
          type: 'line',
          showSymbol: false,
          color: '#4c6ef5',
          data: history.map((h) => [h.at, h.baseline.successRate]),
        },
        {
          name: t('analysis.successOf', { version: c }),
          type: 'line',
          showSymbol: false,
          color: '#f59f00',
          data: history.map((h) => [h.at, h.candidate.successRate]),
        },
      ],
    }),
    [history, b, c, t],
  );
  const latencyOption = useMemo<EChartOption>(
    () => ({
      animation: false,
      grid: { left: 48, right: 16, top: 28, bottom: 28 },
      tooltip: { trigger: 'axis' },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: 'time', axisLabel: { fontSize: 10, formatter: '{HH}:{mm}:{ss}', hideOverlap: true } },
      yAxis: { type: 'value', axisLabel: { formatter: '{value} ms', fontSize: 10 } },
      series: [
        {
          name: t('analysis.p99Of', { version: b }),
          type: 'line',
          showSymbol: false,
          color: '#4c6ef5',
          data: history.map((h) => [h.at, h.baseline.p99]),
        },
        {
          name: t('analysis.p99Of', { version: c }),
          type: 'line',
          showSymbol: false,
          color: '#f59f00',
          data: history.map((h) => [h.at, h.candidate.p99]),
        },
      ],
    }),
    [history, b, c, t],
  );

  const run = (kind: 'promote' | 'abort') =>
    action.mutate(kind, {
      onSuccess: () => {
        setAsking(null);
        pushToast({
          color: 'green',
          title: t(kind === 'promote' ? 'analysis.promoted' : 'analysis.aborted', { candidate: c, baseline: b }),
          message: '',
          details: [],
        });
      },
      onError: (err) => {
        setAsking(null);
        notifyError(err, t(kind === 'promote' ? 'analysis.promote' : 'analysis.abort'));
      },
    });

  const stepLabel = (s: StepSpec) =>
    s.setWeight !== undefined
      ? `${s.setWeight} %`
      : s.pause?.duration
        ? t('analysis.pauseFor', { duration: s.pause.duration })
        : t('analysis.pauseUntil');

  return (
    <Card withBorder data-test="analysis-panel">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          {t('analysis.title')}
        </Title>
        {canChange && active && (
          <Group gap="xs">
            <Button size="xs" color="teal" onClick={() => setAsking('promote')} data-test="analysis-promote">
              {t('analysis.promote')}
            </Button>
            <Button size="xs" color="red" variant="light" onClick={() => setAsking('abort')} data-test="analysis-abort">
              {t('analysis.abort')}
            </Button>
          </Group>
        )}
      </Group>
      <Group gap={6} mb="sm" data-test="analysis-timeline">
        {steps.map((s, i) => {
          const done = a ? i < a.step || a.state === 'promoting' : false;
          const current = a ? i === a.step && active && a.state !== 'waiting' && a.state !== 'preRollout' : false;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: steps have no identity beyond their position
            <Group key={i} gap={6}>
              <Badge
                variant={current ? 'filled' : done ? 'light' : 'outline'}
                color={current ? (verdictColor[a?.verdict ?? ''] ?? 'blue') : done ? 'teal' : 'gray'}
                data-test="analysis-timeline-step"
                data-current={current || undefined}
              >
                {i + 1}. {stepLabel(s)}
              </Badge>
              {i < steps.length - 1 && <Text c="dimmed">→</Text>}
            </Group>
          );
        })}
      </Group>
      <Group gap="xs" mb="xs">
        <Badge color={verdictColor[a?.verdict ?? ''] ?? 'gray'} data-test="analysis-verdict">
          {a?.verdict ? t(`analysis.verdict.${a.verdict}`) : t('analysis.verdict.none')}
        </Badge>
        <Badge variant="outline" data-test="analysis-state">
          {t(`analysis.state.${a?.state ?? 'waiting'}`)}
        </Badge>
      </Group>
      <Text size="sm" mb="sm" data-test="analysis-message" style={{ overflowWrap: 'anywhere' }}>
        {a?.message ?? t('analysis.starting')}
      </Text>
      {a?.totals && (
        <Table withTableBorder mb="sm" data-test="analysis-evidence">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('analysis.version')}</Table.Th>
              <Table.Th>{t('analysis.requests')}</Table.Th>
              <Table.Th>{t('analysis.successRate')}</Table.Th>
              <Table.Th>p50</Table.Th>
              <Table.Th>p99</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(
              [
                [c, a.totals.candidate],
                [b, a.totals.baseline],
              ] as const
            ).map(([v, f]) => (
              <Table.Tr key={v}>
                <Table.Td>{v}</Table.Td>
                <Table.Td>{f.requests}</Table.Td>
                <Table.Td>{pct(f.successRate)}</Table.Td>
                <Table.Td>{ms(f.p50)}</Table.Td>
                <Table.Td>{ms(f.p99)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {a && a.checks.length > 0 && (
        <Stack gap={6} mb="sm" data-test="analysis-checks">
          {a.checks.map((check) => (
            <div key={`${check.metric}.${check.test}`} data-test="analysis-check">
              <Group justify="space-between" gap="xs">
                <Text size="xs" fw={600}>
                  {t(`analysis.test.${check.test}`)} ({check.metric})
                </Text>
                <Text size="xs" c="dimmed">
                  {t('analysis.towardBound', { percent: Math.round(check.progress * 100) })}
                </Text>
              </Group>
              <Progress
                value={check.progress * 100}
                color={check.verdict === 'failing' ? 'red' : check.progress > 0.5 ? 'orange' : 'teal'}
                size="sm"
              />
              <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                {check.message}
              </Text>
            </div>
          ))}
        </Stack>
      )}
      {history.length > 0 && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          <EChart option={successOption} height={200} label={t('analysis.successChart')} test="analysis-success-chart" />
          <EChart option={latencyOption} height={200} label={t('analysis.latencyChart')} test="analysis-latency-chart" />
        </SimpleGrid>
      )}
      <ConfirmModal
        opened={asking !== null}
        title={t(asking === 'abort' ? 'analysis.abortTitle' : 'analysis.promoteTitle', { candidate: c, baseline: b })}
        body={t(asking === 'abort' ? 'analysis.abortBody' : 'analysis.promoteBody', { candidate: c, baseline: b })}
        confirmLabel={t(asking === 'abort' ? 'analysis.abort' : 'analysis.promote')}
        color={asking === 'abort' ? 'red' : 'teal'}
        loading={action.isPending}
        onConfirm={() => asking && run(asking)}
        onClose={() => setAsking(null)}
      />
    </Card>
  );
}
