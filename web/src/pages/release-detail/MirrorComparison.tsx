import { Badge, Card, Group, Loader, Progress, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useComparison } from '../../api/releases.js';
import type { Comparison, ComparisonDifference, LatencyPercentiles, Release } from '../../api/types.js';
import { EmptyState } from '../../components/EmptyState.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { DifferenceExample } from './DifferenceExample.js';

// The control plane keeps 600 s of comparisons.
export const comparisonWindows = [60, 300, 600] as const;

/** A difference's identity across polls (its position moves as counts change): what the URL's `diff` holds. */
export const differenceKey = (d: ComparisonDifference) => `${d.kind} ${d.method} ${d.path} ${d.field ?? ''}`.trim();

const show = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '—' : String(v));
const ms = (v: number | null | undefined) => (typeof v === 'number' ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '—');

function Stat({ label, value, test }: { label: string; value: number | string; test: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" data-test={test}>
        {value}
      </Text>
    </div>
  );
}

function Agreement({ c }: { c: Comparison }) {
  const { t } = useTranslation();
  const percent = c.compared > 0 ? (c.agree / c.compared) * 100 : 0;
  const figure = c.compared > 0 ? `${percent >= 99.95 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)}%` : '—';
  return (
    <Stack gap="xs">
      <Group justify="space-between" align="flex-end">
        <div>
          <Text size="xs" c="dimmed">
            {t('mirror.agreement')}
          </Text>
          <Text fw={800} fz={32} lh={1.1} c={percent >= 99.95 ? 'teal.8' : 'red.8'} data-test="agreement">
            {figure}
          </Text>
        </div>
        <Text size="sm" data-test="agreement-counts">
          {t('mirror.agreeOf', { agree: c.agree, compared: c.compared })}
        </Text>
      </Group>
      <Progress.Root size="lg" aria-label={t('mirror.agreement')}>
        <Progress.Section value={percent} color="teal" aria-label={t('mirror.agreeLabel')} />
        <Progress.Section value={c.compared > 0 ? 100 - percent : 0} color="red" aria-label={t('mirror.differLabel')} />
      </Progress.Root>
      <SimpleGrid cols={{ base: 2, sm: 5 }}>
        <Stat label={t('mirror.requests')} value={c.requests} test="stat-requests" />
        <Stat label={t('mirror.mirrored')} value={c.mirrored} test="stat-mirrored" />
        <Stat label={t('mirror.compared')} value={c.compared} test="stat-compared" />
        <Stat label={t('mirror.bodyTooLarge')} value={c.skipped?.bodyTooLarge ?? 0} test="stat-too-large" />
        <Stat label={t('mirror.mirrorFailed')} value={c.skipped?.mirrorFailed ?? 0} test="stat-mirror-failed" />
      </SimpleGrid>
    </Stack>
  );
}

function Latency({ c, release }: { c: Comparison; release: Release }) {
  const { t } = useTranslation();
  const row = (label: string, side: 'primary' | 'mirror', p: LatencyPercentiles | undefined) => (
    <Table.Tr data-test="latency-row" data-side={side}>
      <Table.Td>{label}</Table.Td>
      <Table.Td data-test="p50">{ms(p?.p50)}</Table.Td>
      <Table.Td data-test="p90">{ms(p?.p90)}</Table.Td>
      <Table.Td data-test="p99">{ms(p?.p99)}</Table.Td>
    </Table.Tr>
  );
  return (
    <Table data-test="latency">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t('mirror.latency')}</Table.Th>
          <Table.Th>p50</Table.Th>
          <Table.Th>p90</Table.Th>
          <Table.Th>p99</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {row(`${t('mirror.primary')} · ${release.baseline}`, 'primary', c.latency?.primary)}
        {row(`${t('mirror.mirror')} · ${release.candidate.name}`, 'mirror', c.latency?.mirror)}
      </Table.Tbody>
    </Table>
  );
}

/**
 * Mirroring's job page: how often the candidate's answers agree with the primary's, the top differences with
 * an example pair side by side, and both versions' latency. Window and selected difference live in the URL.
 */
export function MirrorComparison({
  release,
  window,
  onWindowChange,
  selected,
  onSelect,
}: {
  release: Release;
  window: number;
  onWindowChange: (w: number) => void;
  /** The difference whose example is shown (`differenceKey`); the first one when null or gone. */
  selected: string | null;
  onSelect: (key: string) => void;
}) {
  const { t } = useTranslation();
  const comparison = useComparison(release.name, window);
  const c = comparison.data;
  const percent = release.traffic?.mirror?.percent ?? 100;
  const diff = c?.differences?.find((d) => differenceKey(d) === selected) ?? c?.differences?.[0];
  return (
    <Card withBorder data-test="comparison">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          {t('mirror.title', { candidate: release.candidate.name, percent })}
        </Title>
        <SegmentedControl
          size="xs"
          value={String(window)}
          onChange={(v) => onWindowChange(Number(v))}
          data={comparisonWindows.map((w) => ({ value: String(w), label: t('detail.rangeMinutes', { n: w / 60 }) }))}
          aria-label={t('mirror.window')}
          data-test="comparison-window"
        />
      </Group>
      <ErrorAlert error={comparison.error} />
      {!c && !comparison.error && <Loader size="sm" role="status" aria-label={t('common.loading')} />}
      {c && c.mirrored === 0 && c.compared === 0 && (
        <EmptyState
          title={t('mirror.emptyTitle')}
          hint={t('mirror.emptyHint', { service: release.service, percent, candidate: release.candidate.name, n: window / 60 })}
          test="comparison-empty"
        />
      )}
      {c && (c.mirrored > 0 || c.compared > 0) && (
        <Stack gap="lg">
          <Agreement c={c} />
          <div>
            <Text fw={600} size="sm" mb={4}>
              {t('mirror.differences')}
            </Text>
            {c.differences.length === 0 ? (
              <Text size="sm" c="dimmed" data-test="no-differences">
                {t('mirror.noDifferences', { compared: c.compared })}
              </Text>
            ) : (
              <Table highlightOnHover data-test="differences">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('mirror.kind')}</Table.Th>
                    <Table.Th>{t('mirror.request')}</Table.Th>
                    <Table.Th>{t('mirror.field')}</Table.Th>
                    <Table.Th>{t('mirror.primary')}</Table.Th>
                    <Table.Th>{t('mirror.mirror')}</Table.Th>
                    <Table.Th>{t('mirror.count')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {c.differences.map((d) => (
                    <Table.Tr
                      key={`${differenceKey(d)} ${show(d.primary)} ${show(d.mirror)}`}
                      data-test="difference"
                      data-kind={d.kind}
                      data-selected={d === diff}
                      aria-selected={d === diff}
                      tabIndex={0}
                      style={{ cursor: 'pointer', background: d === diff ? 'var(--mantine-color-indigo-0)' : undefined }}
                      onClick={() => onSelect(differenceKey(d))}
                      onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && onSelect(differenceKey(d))}
                    >
                      <Table.Td>
                        <Badge size="sm" variant="light" color={d.kind === 'status' ? 'red' : d.kind === 'body' ? 'orange' : 'yellow'}>
                          {t(`mirror.kinds.${d.kind}`)}
                        </Badge>
                      </Table.Td>
                      <Table.Td ff="monospace" fz="sm">
                        {d.method} {d.path}
                      </Table.Td>
                      <Table.Td ff="monospace" fz="sm" data-test="difference-field">
                        {show(d.field)}
                      </Table.Td>
                      <Table.Td ff="monospace" fz="sm" data-test="difference-primary">
                        {show(d.primary)}
                      </Table.Td>
                      <Table.Td ff="monospace" fz="sm" data-test="difference-mirror">
                        {show(d.mirror)}
                      </Table.Td>
                      <Table.Td data-test="difference-count">{d.count}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </div>
          {(c.otherDifferences ?? 0) > 0 && (
            <Text size="xs" c="dimmed" data-test="other-differences">
              {t('mirror.otherDifferences', { count: c.otherDifferences })}
            </Text>
          )}
          {diff && <DifferenceExample diff={diff} baseline={release.baseline} candidate={release.candidate.name} />}
          <Latency c={c} release={release} />
        </Stack>
      )}
    </Card>
  );
}
