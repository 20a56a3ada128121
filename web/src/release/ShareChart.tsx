import { Group, Paper, SegmentedControl, Stack, Text } from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Release } from '../api/types.js';
import { EChart, type EChartOption } from '../components/EChart.js';
import { historyRanges, useObservedHistory } from './observed-history.js';
import { historySamples, mergeSamples, type ShareSample } from './share-samples.js';
import { configuredShare, observedPercent, releaseVersions } from './traffic-share.js';

const colors = ['#4c6ef5', '#f59f00', '#12b886'];
/** An hour of 2-s polls. */
const maxLiveSamples = 1800;

/**
 * Observed vs configured share over time: the release's observed history first (10-s points over the chosen
 * range), then one live point per poll of the release (every 2 s, observed over the last minute).
 */
export function ShareChart({
  release,
  fetchedAt,
  minutes,
  onMinutesChange,
}: {
  release: Release;
  fetchedAt: number;
  minutes: number;
  onMinutesChange: (minutes: number) => void;
}) {
  const { t } = useTranslation();
  const [live, setLive] = useState<ShareSample[]>([]);
  // The same list while the same versions take part, so the memos below recompute only when they change.
  const versionKey = releaseVersions(release).join(',');
  const versions = useMemo(() => (versionKey ? versionKey.split(',') : []), [versionKey]);
  const history = useObservedHistory(release.name, minutes);
  // One sample per answer from the API (a poll, or a refetch after an action); an hour of them at most, so the
  // live part never leaves a hole between the history and what is kept.
  // biome-ignore lint/correctness/useExhaustiveDependencies: one sample per poll (fetchedAt), not per render
  useEffect(() => {
    const configured = configuredShare(release);
    const observed = Object.fromEntries(versions.map((v) => [v, observedPercent(release, v)]));
    setLive((s) => [...s.slice(-(maxLiveSamples - 1)), { at: fetchedAt, observed, configured }]);
  }, [fetchedAt]);
  const past = useMemo(() => historySamples(history.data, versions), [history.data, versions]);
  const samples = useMemo(() => mergeSamples(past, live), [past, live]);
  const option = useMemo<EChartOption>(
    () => ({
      animation: false,
      grid: { left: 40, right: 16, top: 32, bottom: 28 },
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (v === null || v === undefined ? '—' : `${v}%`) },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: {
        type: 'time',
        minInterval: 10_000,
        // At least a minute wide: a first lone sample would otherwise stretch the axis over days.
        min: (v: { min: number; max: number }) => Math.min(v.min, v.max - 60_000),
        splitNumber: 5,
        axisLabel: { fontSize: 10, formatter: '{HH}:{mm}:{ss}', hideOverlap: true },
      },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%', fontSize: 10 } },
      series: versions.flatMap((v, i) => [
        {
          name: t('detail.seriesObserved', { version: v }),
          type: 'line',
          showSymbol: false,
          connectNulls: false,
          color: colors[i],
          data: samples.map((s) => [s.at, s.observed[v] ?? null]),
        },
        {
          name: t('detail.seriesConfigured', { version: v }),
          type: 'line',
          showSymbol: false,
          step: 'end',
          color: colors[i],
          lineStyle: { type: 'dashed', width: 1 },
          data: samples.map((s) => [s.at, s.configured === null ? null : (s.configured[v] ?? 0)]),
        },
      ]),
    }),
    [samples, versions, t],
  );
  const observedAny = samples.some((s) => Object.values(s.observed).some((o) => o !== null));
  // Said only once the history has answered, so a page with a past does not flash "no traffic" while loading.
  const empty = !observedAny && !history.isPending;
  const historyPoints = past.length;
  return (
    <Stack gap={4} data-test="share-history" data-samples={samples.length} data-history-points={historyPoints}>
      <Group justify="flex-end">
        <SegmentedControl
          size="xs"
          aria-label={t('detail.range')}
          value={String(minutes)}
          onChange={(v) => onMinutesChange(Number(v))}
          data={historyRanges.map((m) => ({ value: String(m), label: t('detail.rangeMinutes', { n: m }) }))}
          data-test="share-range"
        />
      </Group>
      <EChart option={option} height={240} label={t('detail.chartTitle')} test="share-chart" />
      {empty && (
        <Paper withBorder p="sm" radius="md" data-test="share-history-empty">
          <Text size="sm" fw={600}>
            {t('detail.noTrafficTitle')}
          </Text>
          <Text size="xs" c="dimmed">
            {t('detail.noTrafficHint', { service: release.service, n: minutes })}
          </Text>
        </Paper>
      )}
    </Stack>
  );
}
