import { Alert, Anchor, Badge, Button, Card, Group, Loader, SimpleGrid, Stack, Tabs, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client.js';
import { useRelease } from '../api/releases.js';
import { useService } from '../api/services.js';
import type { Release } from '../api/types.js';
import { useCan } from '../api/whoami.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice.js';
import { StrategyBadge } from '../components/StrategyBadge.js';
import { historyRangeOf } from '../release/observed-history.js';
import { ShareChart } from '../release/ShareChart.js';
import { blueGreenRoles, releaseVersions } from '../release/traffic-share.js';
import { AnalysisPanel } from './release-detail/AnalysisPanel.js';
import { BlueGreenStatus } from './release-detail/BlueGreenStatus.js';
import { CanaryVersions } from './release-detail/CanaryVersions.js';
import { EventHistory } from './release-detail/EventHistory.js';
import { comparisonWindows, MirrorComparison } from './release-detail/MirrorComparison.js';
import { PreviewCurl } from './release-detail/PreviewCurl.js';
import { ReleaseIstio } from './release-detail/ReleaseIstio.js';
import { useConfirmedAction } from './release-detail/useConfirmedAction.js';
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

/** The version Finish proposes to keep: the one answering now. */
function defaultKeep(release: Release): string {
  if (release.strategy === 'blueGreen') return blueGreenRoles(release).live;
  if (release.strategy === 'mirror' && !release.status.governor) return release.baseline;
  return release.status.governor ?? release.candidate.name;
}

function ReleaseDetail({ release, fetchedAt }: { release: Release; fetchedAt: number }) {
  const { t, i18n } = useTranslation();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'events';
  const range = historyRangeOf(params.get('range'));
  const windowParam = Number(params.get('window'));
  const comparisonWindow = (comparisonWindows as readonly number[]).includes(windowParam) ? windowParam : 300;
  const selectedDiff = params.get('diff');
  // Each control owns its own parameter and keeps the others.
  const setParam = (key: string, value: string) =>
    setParams((p) => {
      const next = new URLSearchParams(p);
      next.set(key, value);
      return next;
    });
  const versions = releaseVersions(release);
  const canChange = useCan('releases:write');
  const service = useService(release.service);
  const { ask, modal } = useConfirmedAction(release, defaultKeep(release));
  const lastCondition = release.status.conditions[release.status.conditions.length - 1];
  // A mirror that was taken over is a canary at 100 % candidate: it is shown and driven as one.
  const mode = release.strategy === 'mirror' && release.status.governor ? 'canary' : (release.strategy ?? 'canary');
  const chart = (
    <Card withBorder>
      <Title order={3} size="h4" mb="sm">
        {t('detail.chartTitle')}
      </Title>
      <ShareChart release={release} fetchedAt={fetchedAt} minutes={range} onMinutesChange={(m) => setParam('range', String(m))} />
    </Card>
  );

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
            <StrategyBadge strategy={release.strategy} />
            <PhaseBadge phase={release.status.phase} />
            {release.status.governor && mode === 'canary' && (
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
          {mode === 'canary' && (
            <>
              <Button color="orange" variant="light" disabled={!canChange} onClick={() => ask({ kind: 'rollback' })} data-test="rollback">
                {t('detail.rollback')}
              </Button>
              <Button
                variant="light"
                disabled={!canChange || !release.status.governor}
                onClick={() => ask({ kind: 'resume' })}
                data-test="resume"
              >
                {t('detail.resume')}
              </Button>
            </>
          )}
          {mode === 'mirror' && (
            <Button
              color="teal"
              variant="light"
              disabled={!canChange || release.status.phase === 'Pending'}
              onClick={() => ask({ kind: 'takeover', version: release.candidate.name })}
              data-test="mirror-takeover"
            >
              {t('mirror.takeover', { candidate: release.candidate.name })}
            </Button>
          )}
          <Button
            color="red"
            variant="light"
            disabled={!canChange}
            onClick={() => ask({ kind: 'finish', keep: defaultKeep(release) })}
            data-test="finish"
          >
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

      {release.analysis && <AnalysisPanel release={release} />}
      {mode === 'canary' && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          <Card withBorder>
            <CanaryVersions release={release} ask={ask} />
          </Card>
          {chart}
        </SimpleGrid>
      )}
      {mode === 'blueGreen' && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          <Card withBorder>
            <BlueGreenStatus release={release} ask={ask} />
          </Card>
          {chart}
        </SimpleGrid>
      )}
      {mode === 'mirror' && (
        <MirrorComparison
          release={release}
          window={comparisonWindow}
          onWindowChange={(w) => setParam('window', String(w))}
          selected={selectedDiff}
          onSelect={(key) => setParam('diff', key)}
        />
      )}

      <Card withBorder>
        <PreviewCurl release={release} service={service.data} />
      </Card>

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
      {modal}
    </Stack>
  );
}
