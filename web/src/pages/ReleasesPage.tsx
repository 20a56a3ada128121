import { Button, Card, Loader, Progress, SimpleGrid, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { useReleases } from '../api/releases.js';
import type { Release } from '../api/types.js';
import { useCan } from '../api/whoami.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { StrategyBadge } from '../components/StrategyBadge.js';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice.js';
import { configuredShare, observedPercent, releaseVersions } from '../release/traffic-share.js';

export function ReleasesPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'modes';
  return (
    <Stack>
      <div>
        <Title order={2}>{t('releases.title')}</Title>
        <Text c="dimmed" size="sm">
          {t('releases.subtitle')}
        </Text>
      </div>
      <ReadOnlyNotice permission="releases:write" />
      <Tabs value={tab} onChange={(v) => setParams({ tab: v ?? 'modes' })}>
        <Tabs.List>
          <Tabs.Tab value="modes" data-test="tab-modes">
            {t('releases.tabModes')}
          </Tabs.Tab>
          <Tabs.Tab value="jobs" data-test="tab-jobs">
            {t('releases.tabJobs')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="modes" pt="md">
          <ModeCards />
        </Tabs.Panel>
        <Tabs.Panel value="jobs" pt="md">
          {tab === 'jobs' && <JobList />}
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function ModeCards() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const canCreate = useCan('releases:write');
  const modes = ['blueGreen', 'canary', 'mirror'] as const;
  return (
    <SimpleGrid cols={{ base: 1, md: 3 }}>
      {modes.map((m) => (
        <Card key={m} withBorder padding="lg" data-test={`mode-${m}`}>
          <Stack gap="sm" h="100%">
            <Title order={3} size="h4">
              {t(`modes.${m}.title`)}
            </Title>
            <Text size="sm" c="dimmed" style={{ flex: 1 }}>
              {t(`modes.${m}.description`)}
            </Text>
            <Button
              disabled={!canCreate}
              onClick={() => navigate(m === 'canary' ? '/releases/new' : `/releases/new?mode=${m}`)}
              data-test={`mode-${m}-create`}
            >
              {t('modes.create')}
            </Button>
          </Stack>
        </Card>
      ))}
    </SimpleGrid>
  );
}

function ShareBar({ release }: { release: Release }) {
  const { t } = useTranslation();
  const share = configuredShare(release);
  const versions = releaseVersions(release);
  const colors = ['indigo', 'yellow'];
  return (
    <Stack gap={4} miw={220}>
      <Progress.Root size="lg">
        {versions.map((v, i) => (
          <Progress.Section key={v} value={share[v] ?? 0} color={colors[i] ?? 'gray'} aria-label={`${t('releases.configured')}: ${v}`}>
            <Progress.Label c={i === 1 ? 'dark' : undefined}>{(share[v] ?? 0) > 12 ? v : ''}</Progress.Label>
          </Progress.Section>
        ))}
      </Progress.Root>
      <Text size="xs" c="dimmed" data-test="release-share">
        {versions.map((v) => `${v} ${share[v] ?? 0}%`).join(' · ')}
        {release.traffic?.match ? ` · ${t('releases.plusMatch')}` : ''}
        {release.traffic?.mirror && !release.status.governor
          ? ` · ${t('releases.mirrored', { version: release.candidate.name, percent: release.traffic?.mirror.percent })}`
          : ''}
      </Text>
    </Stack>
  );
}

function JobList() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const releases = useReleases();
  const canCreate = useCan('releases:write');
  if (releases.error) return <ErrorAlert error={releases.error} />;
  if (!releases.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  if (releases.data.length === 0) {
    return (
      <EmptyState
        title={t('releases.emptyTitle')}
        hint={t('releases.emptyHint')}
        test="releases-empty"
        action={
          <Button disabled={!canCreate} onClick={() => navigate('/releases/new')} data-test="empty-create">
            {t('modes.create')}
          </Button>
        }
      />
    );
  }
  return (
    <Card withBorder padding={0}>
      <Table highlightOnHover verticalSpacing="sm" horizontalSpacing="md">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('releases.name')}</Table.Th>
            <Table.Th>{t('releases.service')}</Table.Th>
            <Table.Th>{t('releases.mode')}</Table.Th>
            <Table.Th>{t('releases.phase')}</Table.Th>
            <Table.Th>{t('releases.configured')}</Table.Th>
            <Table.Th>{t('releases.observed')}</Table.Th>
            <Table.Th>{t('releases.createdAt')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {releases.data.map((r) => (
            <Table.Tr
              key={r.name}
              data-test="release-row"
              data-release={r.name}
              style={{ cursor: 'pointer' }}
              onClick={() => navigate(`/releases/${encodeURIComponent(r.name)}`)}
            >
              <Table.Td>
                <Text fw={600} c="indigo.8" size="sm">
                  {r.name}
                </Text>
              </Table.Td>
              <Table.Td>{r.service}</Table.Td>
              <Table.Td>
                <StrategyBadge strategy={r.strategy} />
              </Table.Td>
              <Table.Td>
                <PhaseBadge phase={r.status.phase} />
              </Table.Td>
              <Table.Td>
                <ShareBar release={r} />
              </Table.Td>
              <Table.Td>
                <Text size="sm">
                  {releaseVersions(r)
                    .map((v) => {
                      const o = observedPercent(r, v);
                      return `${v} ${o === null ? '—' : `${o}%`}`;
                    })
                    .join(' · ')}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{new Date(r.createdAt).toLocaleString(i18n.language)}</Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
