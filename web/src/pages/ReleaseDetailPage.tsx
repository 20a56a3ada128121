import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Loader,
  Select,
  SimpleGrid,
  Slider,
  Stack,
  Table,
  Tabs,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client.js';
import { type ReleaseAction, usePatchTraffic, useRelease, useReleaseAction, useReleaseEvents } from '../api/releases.js';
import { useIstioManifests, useService } from '../api/services.js';
import type { MeshEvent, Release } from '../api/types.js';
import { useCan } from '../api/whoami.js';
import { ConfirmModal } from '../components/ConfirmModal.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { pushToast } from '../components/notifications.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice.js';
import { toYaml } from '../components/to-yaml.js';
import { YamlView } from '../components/YamlView.js';
import { historyRangeOf } from '../release/observed-history.js';
import { ShareChart } from '../release/ShareChart.js';
import { configuredShare, observedPercent, releaseVersions } from '../release/traffic-share.js';
import { InstancesTable } from './ServicesPage.js';

export function ReleaseDetailPage() {
  const { name = '' } = useParams();
  const { t } = useTranslation();
  const release = useRelease(name);
  if (release.error) {
    return (
      <Stack>
        <BackLink />
        <ErrorAlert error={release.error} />
        {release.error instanceof ApiError && release.error.status === 404 && (
          <EmptyState title={t('detail.goneTitle')} hint={t('detail.goneHint')} />
        )}
      </Stack>
    );
  }
  if (!release.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  return <ReleaseDetail release={release.data} fetchedAt={release.dataUpdatedAt} />;
}

function BackLink() {
  const { t } = useTranslation();
  return (
    <Anchor component={Link} to="/releases?tab=jobs" size="sm" data-test="back-to-jobs">
      ← {t('detail.back')}
    </Anchor>
  );
}

type Pending = ReleaseAction | null;

function ReleaseDetail({ release, fetchedAt }: { release: Release; fetchedAt: number }) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'events';
  const range = historyRangeOf(params.get('range'));
  // Each control owns its own parameter and keeps the others.
  const setParam = (key: string, value: string) =>
    setParams((p) => {
      const next = new URLSearchParams(p);
      next.set(key, value);
      return next;
    });
  const versions = releaseVersions(release);
  const share = configuredShare(release);
  const action = useReleaseAction(release.name);
  const canChange = useCan('releases:write');
  const [pending, setPending] = useState<Pending>(null);
  const [keep, setKeep] = useState<string>(release.status.governor ?? release.candidate.name);
  const service = useService(release.service);
  const lastCondition = release.status.conditions[release.status.conditions.length - 1];

  const confirm = () => {
    if (!pending) return;
    action.mutate(pending, {
      onSuccess: () => {
        pushToast({ color: 'green', title: t('detail.done'), message: doneMessage(pending), details: [] });
        if (pending.kind === 'finish') navigate('/releases?tab=jobs');
        setPending(null);
      },
    });
  };

  const doneMessage = (a: ReleaseAction) => {
    switch (a.kind) {
      case 'takeover':
        return t('detail.takeoverDone', { version: a.version });
      case 'rollback':
        return t('detail.rollbackDone', { baseline: release.baseline });
      case 'resume':
        return t('detail.resumeDone');
      case 'finish':
        return t('detail.finishDone', { version: a.keep });
    }
  };

  const describe = (a: ReleaseAction) => {
    const other = (v: string) => versions.filter((x) => x !== v).join(', ');
    switch (a.kind) {
      case 'takeover':
        return {
          title: t('detail.takeoverTitle', { version: a.version }),
          body: t('detail.takeoverBody', { version: a.version, other: other(a.version) }),
          color: 'teal',
        };
      case 'rollback':
        return {
          title: t('detail.rollbackTitle'),
          body: t('detail.rollbackBody', { baseline: release.baseline, candidate: release.candidate.name }),
          color: 'orange',
        };
      case 'resume':
        return {
          title: t('detail.resumeTitle'),
          body: t('detail.resumeBody', { split: versions.map((v) => `${v} ${share[v] ?? 0}%`).join(' / ') }),
          color: 'blue',
        };
      case 'finish':
        return {
          title: t('detail.finishTitle', { version: a.keep }),
          body: t('detail.finishBody', { keep: a.keep, other: other(a.keep) }),
          color: 'red',
        };
    }
  };
  const d = pending ? describe(pending) : null;

  return (
    <Stack>
      <BackLink />
      <ReadOnlyNotice permission="releases:write" />
      <Group justify="space-between" align="flex-start">
        <div>
          <Group gap="sm">
            <Title order={2} data-test="release-title">
              {release.name}
            </Title>
            <PhaseBadge phase={release.status.phase} />
            {release.status.governor && (
              <Badge color="grape" variant="light" tt="none" data-test="release-governor">
                {t('detail.governor', { version: release.status.governor })}
              </Badge>
            )}
          </Group>
          <Text size="sm" c="dimmed">
            {t('detail.summary', {
              service: release.service,
              baseline: release.baseline,
              candidate: release.candidate.name,
              by: release.createdBy,
              at: new Date(release.createdAt).toLocaleString(i18n.language),
            })}
          </Text>
        </div>
        <Group gap="xs">
          <Button
            color="orange"
            variant="light"
            disabled={!canChange}
            onClick={() => setPending({ kind: 'rollback' })}
            data-test="rollback"
          >
            {t('detail.rollback')}
          </Button>
          <Button
            variant="light"
            disabled={!canChange || !release.status.governor}
            onClick={() => setPending({ kind: 'resume' })}
            data-test="resume"
          >
            {t('detail.resume')}
          </Button>
          <Button color="red" variant="light" disabled={!canChange} onClick={() => setPending({ kind: 'finish', keep })} data-test="finish">
            {t('detail.finish')}
          </Button>
        </Group>
      </Group>

      {lastCondition && (release.status.phase === 'Failed' || release.status.phase === 'Pending') && (
        <Alert
          color={release.status.phase === 'Failed' ? 'red' : 'blue'}
          variant="light"
          title={lastCondition.reason}
          data-test="release-condition"
        >
          {lastCondition.message}
        </Alert>
      )}

      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder>
          <Title order={3} size="h4" mb="sm">
            {t('detail.versions')}
          </Title>
          <Table verticalSpacing="sm" data-test="share-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('detail.version')}</Table.Th>
                <Table.Th>{t('detail.configured')}</Table.Th>
                <Table.Th>{t('detail.observed')}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {versions.map((v) => {
                const o = observedPercent(release, v);
                return (
                  <Table.Tr key={v} data-test="version-share" data-version={v}>
                    <Table.Td>
                      <Group gap={6}>
                        <Text fw={600}>{v}</Text>
                        <Badge size="xs" variant="outline" color="gray">
                          {v === release.baseline ? t('detail.baseline') : t('detail.candidate')}
                        </Badge>
                      </Group>
                    </Table.Td>
                    <Table.Td data-test="configured-share">{share[v] ?? 0}%</Table.Td>
                    <Table.Td data-test="observed-share">{o === null ? '—' : `${o}%`}</Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="light"
                        color="teal"
                        disabled={!canChange || release.status.governor === v}
                        onClick={() => setPending({ kind: 'takeover', version: v })}
                        data-test="takeover"
                        data-version={v}
                      >
                        {t('detail.takeover')}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
          {release.traffic.match && (
            <Stack gap={4} mt="sm">
              <Text size="sm">{t('detail.matchRules', { candidate: release.candidate.name })}</Text>
              <Code block>{toYaml(release.traffic.match)}</Code>
            </Stack>
          )}
          {release.traffic.weights && !release.traffic.rules && <WeightEditor release={release} />}
        </Card>
        <Card withBorder>
          <Title order={3} size="h4" mb="sm">
            {t('detail.chartTitle')}
          </Title>
          <ShareChart release={release} fetchedAt={fetchedAt} minutes={range} onMinutesChange={(m) => setParam('range', String(m))} />
        </Card>
      </SimpleGrid>

      <Card withBorder>
        <Title order={3} size="h4" mb="sm">
          {t('detail.instances')}
        </Title>
        <ErrorAlert error={service.error} />
        <Stack>
          {service.data?.versions
            .filter((v) => versions.includes(v.name))
            .map((v) => (
              <div key={v.name}>
                <Text fw={600} size="sm" mb={4}>
                  {release.service} {v.name}
                </Text>
                <InstancesTable version={v} />
              </div>
            ))}
        </Stack>
      </Card>

      <Card withBorder>
        <Tabs value={tab} onChange={(v) => setParam('tab', v ?? 'events')}>
          <Tabs.List>
            <Tabs.Tab value="events" data-test="tab-events">
              {t('detail.events')}
            </Tabs.Tab>
            <Tabs.Tab value="istio" data-test="tab-istio">
              {t('detail.istio')}
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="events" pt="md">
            {tab === 'events' && <EventHistory name={release.name} />}
          </Tabs.Panel>
          <Tabs.Panel value="istio" pt="md">
            {tab === 'istio' && <ReleaseIstio service={release.service} />}
          </Tabs.Panel>
        </Tabs>
      </Card>

      <ConfirmModal
        opened={!!pending}
        title={d?.title ?? ''}
        body={d?.body ?? ''}
        color={d?.color}
        confirmLabel={t('common.confirm')}
        loading={action.isPending}
        onClose={() => setPending(null)}
        onConfirm={confirm}
      >
        {pending?.kind === 'finish' && (
          <Select
            label={t('detail.keep')}
            data={versions}
            value={keep}
            onChange={(v) => {
              const k = v ?? release.candidate.name;
              setKeep(k);
              setPending({ kind: 'finish', keep: k });
            }}
            data-test="finish-keep"
            comboboxProps={{ withinPortal: true }}
          />
        )}
      </ConfirmModal>
    </Stack>
  );
}

function WeightEditor({ release }: { release: Release }) {
  const { t } = useTranslation();
  const candidate = release.candidate.name;
  const stored = release.traffic.weights?.[candidate] ?? 0;
  const [value, setValue] = useState(stored);
  const [confirming, setConfirming] = useState(false);
  const patchTraffic = usePatchTraffic(release.name);
  const canChange = useCan('releases:write');
  // Follow changes made elsewhere while the user is not editing.
  const dirty = value !== stored;
  const last = useRef(stored);
  useEffect(() => {
    if (last.current !== stored && !dirty) setValue(stored);
    last.current = stored;
  }, [stored, dirty]);
  const apply = () => {
    patchTraffic.mutate(
      {
        traffic: { ...release.traffic, weights: { [release.baseline]: 100 - value, [candidate]: value } },
        resourceVersion: release.resourceVersion,
      },
      {
        onSuccess: () => {
          pushToast({ color: 'green', title: t('detail.done'), message: t('detail.weightsApplied'), details: [] });
          setConfirming(false);
        },
        onError: () => setConfirming(false),
      },
    );
  };
  return (
    <Stack gap="xs" mt="lg">
      <Text size="sm" fw={500}>
        {release.traffic.match ? t('detail.adjustRest') : t('detail.adjust')}
      </Text>
      <Group justify="space-between">
        <Text size="sm">
          {release.baseline} {100 - value}%
        </Text>
        <Text size="sm">
          {candidate} {value}%
        </Text>
      </Group>
      <Slider
        value={value}
        onChange={setValue}
        step={5}
        min={0}
        max={100}
        disabled={!canChange}
        label={(v) => `${candidate} ${v}%`}
        thumbLabel={t('wizard.sliderLabel', { candidate })}
        data-test="detail-weight-slider"
      />
      {release.status.governor && (
        <Text size="xs" c="dimmed">
          {t('detail.governorNote', { version: release.status.governor })}
        </Text>
      )}
      <Group justify="flex-end">
        <Button size="xs" variant="default" disabled={!dirty} onClick={() => setValue(stored)}>
          {t('detail.reset')}
        </Button>
        <Button size="xs" disabled={!canChange || !dirty} onClick={() => setConfirming(true)} data-test="apply-weights">
          {t('detail.apply')}
        </Button>
      </Group>
      <ConfirmModal
        opened={confirming}
        title={t('detail.applyTitle')}
        body={t('detail.applyBody', { baseline: release.baseline, bw: 100 - value, candidate, cw: value })}
        confirmLabel={t('detail.apply')}
        loading={patchTraffic.isPending}
        onClose={() => setConfirming(false)}
        onConfirm={apply}
      />
    </Stack>
  );
}

function EventHistory({ name }: { name: string }) {
  const { t, i18n } = useTranslation();
  const events = useReleaseEvents(name);
  if (events.error) return <ErrorAlert error={events.error} />;
  if (!events.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  if (events.data.length === 0) return <Text c="dimmed">{t('detail.noEvents')}</Text>;
  const sorted = [...events.data].sort((a, b) => (a.at < b.at ? 1 : -1));
  return (
    <Timeline bulletSize={14} lineWidth={2} data-test="events">
      {sorted.map((e: MeshEvent) => (
        <Timeline.Item key={String(e.id)} title={t(`action.${e.action}`, { defaultValue: e.action })} data-test="event">
          <Text size="xs" c="dimmed">
            {new Date(e.at).toLocaleString(i18n.language)} · {e.actor}
          </Text>
          {e.message && <Text size="sm">{e.message}</Text>}
        </Timeline.Item>
      ))}
    </Timeline>
  );
}

function ReleaseIstio({ service }: { service: string }) {
  const { t } = useTranslation();
  const yaml = useIstioManifests(service, 3000);
  if (yaml.error) return <ErrorAlert error={yaml.error} />;
  if (yaml.data === undefined) return <Loader size="sm" aria-label={t('common.loading')} />;
  return <YamlView yaml={yaml.data} fileName={`${service}-istio.yaml`} test="istio-yaml" />;
}
