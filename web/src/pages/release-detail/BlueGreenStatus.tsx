import { Badge, Button, Group, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ReleaseAction } from '../../api/releases.js';
import type { Release } from '../../api/types.js';
import { useCan } from '../../api/whoami.js';
import { blueGreenRoles, observedPercent } from '../../release/traffic-share.js';

/**
 * Blue-green: which version answers now (live) and which runs beside it, with the one switch that makes sense:
 * Switch to the candidate, or Switch back (an instant roll back) while the baseline is the standby.
 */
export function BlueGreenStatus({ release, ask }: { release: Release; ask: (a: ReleaseAction) => void }) {
  const { t } = useTranslation();
  const canChange = useCan('releases:write');
  const { live, standby, idle } = blueGreenRoles(release);
  const candidate = release.candidate.name;
  const ready = release.status.phase !== 'Pending' && release.status.phase !== 'Failed';
  const role = (v: string) => (v === live ? 'live' : v === standby ? 'standby' : v === idle ? 'idle' : 'idle');
  const colors = { live: 'teal', standby: 'blue', idle: 'gray' } as const;
  return (
    <Stack>
      <Title order={3} size="h4">
        {t('blueGreen.title')}
      </Title>
      <SimpleGrid cols={2}>
        {[release.baseline, candidate].map((v) => {
          const r = role(v);
          const o = observedPercent(release, v);
          return (
            <Paper key={v} withBorder p="md" data-test="bg-version" data-version={v} data-role={r}>
              <Group justify="space-between" mb={4}>
                <Text fw={700} size="lg">
                  {v}
                </Text>
                <Badge color={r === 'live' ? 'teal.9' : colors[r]} variant={r === 'live' ? 'filled' : 'light'} data-test="bg-role">
                  {t(`blueGreen.role.${r}`)}
                </Badge>
              </Group>
              <Text size="sm" data-test="bg-share">
                {t('blueGreen.share', { percent: r === 'live' ? 100 : 0 })}
              </Text>
              <Text size="xs" c="dimmed">
                {t('blueGreen.observed', { value: o === null ? '—' : `${o}%` })}
              </Text>
              <Text size="xs" c="dimmed" mt={4}>
                {t(`blueGreen.roleHint.${r}`, { header: release.preview?.header ?? 'x-canary-preview', version: v })}
              </Text>
            </Paper>
          );
        })}
      </SimpleGrid>
      <Group>
        {live === release.baseline ? (
          <Button
            color="teal.9"
            disabled={!canChange || !ready}
            onClick={() => ask({ kind: 'takeover', version: candidate })}
            data-test="bg-switch"
          >
            {t('blueGreen.switch', { version: candidate })}
          </Button>
        ) : (
          <Button color="orange" variant="light" disabled={!canChange} onClick={() => ask({ kind: 'rollback' })} data-test="bg-switch-back">
            {t('blueGreen.switchBack', { version: release.baseline })}
          </Button>
        )}
        <Text size="xs" c="dimmed" maw={520}>
          {live === release.baseline
            ? t('blueGreen.switchHint', { candidate, baseline: release.baseline })
            : t('blueGreen.switchBackHint', { baseline: release.baseline })}
        </Text>
      </Group>
    </Stack>
  );
}
