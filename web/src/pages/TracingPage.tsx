import {
  Anchor,
  Badge,
  Box,
  Button,
  Card,
  Code,
  Group,
  Loader,
  NumberInput,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { type TraceQuery, useTrace, useTraces } from '../api/observability.js';
import { useServices } from '../api/services.js';
import type { TraceSummary } from '../api/types.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { type DrawnSpan, normalizeSpans, traceDuration, traceStart } from '../tracing/normalize-trace.js';

const ranges = [15, 60, 360, 1440];

function queryFrom(params: URLSearchParams): TraceQuery {
  return {
    service: params.get('service') ?? '',
    sinceMinutes: Number(params.get('range') ?? 60) || 60,
    minDurationMs: Number(params.get('minDuration') ?? 0) || 0,
    errorsOnly: params.get('errors') === '1',
    limit: 50,
  };
}

export function TracingPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const query = queryFrom(params);
  const selected = params.get('trace');
  const services = useServices();
  const traces = useTraces(query);
  const [form, setForm] = useState(query);

  const handleSearch = (e: FormEvent) => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (form.service) next.set('service', form.service);
    next.set('range', String(form.sinceMinutes));
    if (form.minDurationMs > 0) next.set('minDuration', String(form.minDurationMs));
    if (form.errorsOnly) next.set('errors', '1');
    setParams(next);
    void traces.refetch();
  };
  const openTrace = (id: string) => {
    const next = new URLSearchParams(params);
    next.set('trace', id);
    setParams(next);
  };

  return (
    <Stack>
      <div>
        <Title order={2}>{t('tracing.title')}</Title>
        <Text c="dimmed" size="sm">
          {t('tracing.subtitle')}
        </Text>
      </div>
      <Card withBorder component="form" onSubmit={handleSearch}>
        <Group align="flex-end">
          <Select
            label={t('tracing.service')}
            placeholder={t('tracing.anyService')}
            clearable
            w={200}
            data={(services.data ?? []).map((s) => s.name)}
            value={form.service || null}
            onChange={(v) => setForm({ ...form, service: v ?? '' })}
            data-test="trace-service"
          />
          <Select
            label={t('tracing.range')}
            w={170}
            data={ranges.map((m) => ({ value: String(m), label: t(`tracing.ranges.m${m}`) }))}
            value={String(form.sinceMinutes)}
            onChange={(v) => setForm({ ...form, sinceMinutes: Number(v ?? 60) })}
            data-test="trace-range"
          />
          <NumberInput
            label={t('tracing.minDuration')}
            w={170}
            min={0}
            value={form.minDurationMs}
            onChange={(v) => setForm({ ...form, minDurationMs: Number(v) || 0 })}
            data-test="trace-min-duration"
          />
          <Switch
            label={t('tracing.errorsOnly')}
            checked={form.errorsOnly}
            onChange={(e) => setForm({ ...form, errorsOnly: e.currentTarget.checked })}
            mb={8}
            data-test="trace-errors"
          />
          <Button type="submit" data-test="trace-search">
            {t('tracing.search')}
          </Button>
        </Group>
      </Card>
      <ErrorAlert error={traces.error} />
      {traces.isLoading && <Loader size="sm" aria-label={t('common.loading')} />}
      {traces.data && traces.data.length === 0 && (
        <EmptyState title={t('tracing.emptyTitle')} hint={t('tracing.emptyHint')} test="traces-empty" />
      )}
      {traces.data && traces.data.length > 0 && (
        <SimpleGrid cols={{ base: 1, lg: selected ? 2 : 1 }}>
          <Card withBorder padding={0}>
            {/* Focusable, so the list scrolls from the keyboard too. */}
            <ScrollArea.Autosize
              mah="calc(100vh - 260px)"
              type="auto"
              viewportProps={{ tabIndex: 0, 'aria-label': t('tracing.listLabel') }}
            >
              <TraceList traces={traces.data} selected={selected} onOpen={openTrace} />
            </ScrollArea.Autosize>
          </Card>
          {selected && (
            <Box style={{ alignSelf: 'start', position: 'sticky', top: 72 }}>
              <TraceDetail traceId={selected} />
            </Box>
          )}
        </SimpleGrid>
      )}
      {selected && !traces.data?.length && <TraceDetail traceId={selected} />}
    </Stack>
  );
}

function TraceList({ traces, selected, onOpen }: { traces: TraceSummary[]; selected: string | null; onOpen: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  const longest = Math.max(1, ...traces.map(traceDuration));
  return (
    <Table highlightOnHover verticalSpacing="xs">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t('tracing.trace')}</Table.Th>
          <Table.Th>{t('tracing.started')}</Table.Th>
          <Table.Th>{t('tracing.duration')}</Table.Th>
          <Table.Th>{t('tracing.spans')}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {traces.map((tr) => {
          const d = traceDuration(tr);
          const errors = tr.error || (tr.errors ?? 0) > 0;
          return (
            <Table.Tr
              key={tr.traceId}
              onClick={() => onOpen(tr.traceId)}
              style={{ cursor: 'pointer' }}
              bg={tr.traceId === selected ? 'var(--mantine-color-indigo-light)' : undefined}
              data-test="trace-row"
              data-trace={tr.traceId}
              data-services={(tr.services ?? []).join(' ')}
            >
              <Table.Td>
                <Group gap={6}>
                  <Text size="sm" fw={500}>
                    {tr.rootOperation ?? tr.rootService ?? tr.service ?? tr.name ?? '—'}
                  </Text>
                  {errors && (
                    <Badge size="xs" color="red">
                      {t('tracing.error')}
                    </Badge>
                  )}
                </Group>
                <Anchor
                  component="button"
                  type="button"
                  size="xs"
                  ff="monospace"
                  onClick={(e) => {
                    e.stopPropagation();
                    onOpen(tr.traceId);
                  }}
                  title={t('tracing.open', { id: tr.traceId })}
                  data-test="trace-open"
                >
                  {tr.traceId.slice(0, 16)}
                </Anchor>
                {tr.services && tr.services.length > 0 && (
                  <Text size="xs" c="dimmed" data-test="trace-services">
                    {tr.services.join(' · ')}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <Text size="xs" style={{ whiteSpace: 'nowrap' }}>
                  {new Date(traceStart(tr)).toLocaleTimeString(i18n.language)}
                </Text>
              </Table.Td>
              <Table.Td w={140}>
                <Text size="xs" style={{ whiteSpace: 'nowrap' }}>
                  {d.toFixed(1)} ms
                </Text>
                <Box h={4} bg="indigo.4" w={`${Math.max(2, (d / longest) * 100)}%`} style={{ borderRadius: 2 }} />
              </Table.Td>
              <Table.Td>{tr.spanCount ?? tr.spans?.length ?? '—'}</Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

const palette = ['#4c6ef5', '#f59f00', '#12b886', '#be4bdb', '#fa5252', '#15aabf'];

function TraceDetail({ traceId }: { traceId: string }) {
  const { t } = useTranslation();
  const trace = useTrace(traceId);
  const [spanId, setSpanId] = useState<string | null>(null);
  if (trace.error) return <ErrorAlert error={trace.error} />;
  if (!trace.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  const spans = normalizeSpans(trace.data.spans ?? []);
  const start = spans.length ? Math.min(...spans.map((s) => s.startMs)) : 0;
  const end = spans.length ? Math.max(...spans.map((s) => s.startMs + s.durationMs)) : 1;
  const total = Math.max(end - start, 0.001);
  const services = [...new Set(spans.map((s) => s.service))];
  const chosen = spans.find((s) => s.id === spanId) ?? spans[0];
  return (
    <Card withBorder data-test="trace-detail">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h5">
          {t('tracing.waterfall')} <Code>{traceId.slice(0, 16)}</Code>
        </Title>
        <Text size="sm">{t('tracing.total', { ms: total.toFixed(1), n: spans.length })}</Text>
      </Group>
      <Stack gap={2}>
        {spans.map((s) => (
          <SpanBar
            key={s.id}
            span={s}
            start={start}
            total={total}
            color={palette[services.indexOf(s.service) % palette.length] ?? '#4c6ef5'}
            active={s.id === chosen?.id}
            onClick={() => setSpanId(s.id)}
          />
        ))}
      </Stack>
      {chosen && (
        <Box mt="md">
          <Text size="sm" fw={600} mb={4}>
            {t('tracing.attributes')}
          </Text>
          <Table withTableBorder verticalSpacing={2} data-test="span-attributes">
            <Table.Tbody>
              {Object.entries(chosen.attributes).map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Td w={160}>
                    <Text size="xs" c="dimmed">
                      {k}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">{typeof v === 'object' ? JSON.stringify(v) : String(v)}</Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Box>
      )}
    </Card>
  );
}

function SpanBar({
  span,
  start,
  total,
  color,
  active,
  onClick,
}: {
  span: DrawnSpan;
  start: number;
  total: number;
  color: string;
  active: boolean;
  onClick: () => void;
}) {
  const left = ((span.startMs - start) / total) * 100;
  const width = Math.max((span.durationMs / total) * 100, 0.5);
  return (
    <Tooltip label={`${span.name} · ${span.durationMs.toFixed(2)} ms`} openDelay={300}>
      <Box
        component="button"
        type="button"
        onClick={onClick}
        data-test="span-row"
        data-service={span.service}
        data-kind={span.kind}
        style={{
          display: 'flex',
          alignItems: 'center',
          gap: 8,
          width: '100%',
          border: 0,
          padding: '2px 4px',
          borderRadius: 4,
          background: active ? 'var(--mantine-color-indigo-light)' : 'transparent',
          cursor: 'pointer',
          textAlign: 'left',
        }}
      >
        <Box w={220} style={{ paddingLeft: span.depth * 12, flexShrink: 0, minWidth: 0 }}>
          <Text size="xs" fw={500} truncate>
            {span.service} {span.version}
          </Text>
          <Text size="xs" c="dimmed" truncate>
            {span.kind ? `${span.kind} · ` : ''}
            {span.name}
          </Text>
        </Box>
        <Box style={{ position: 'relative', flex: 1, height: 14 }}>
          <Box
            style={{
              position: 'absolute',
              left: `${left}%`,
              width: `${width}%`,
              height: '100%',
              background: span.error ? '#e03131' : color,
              borderRadius: 3,
            }}
          />
        </Box>
        <Text size="xs" w={70} ta="right" style={{ flexShrink: 0 }}>
          {span.durationMs.toFixed(1)} ms
        </Text>
      </Box>
    </Tooltip>
  );
}
