import { Badge, Button, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ReleaseAction } from '../../api/releases.js';
import type { Release } from '../../api/types.js';
import { useCan } from '../../api/whoami.js';
import { toYaml } from '../../components/to-yaml.js';
import { configuredShare, observedPercent, releaseVersions } from '../../release/traffic-share.js';
import { WeightEditor } from './WeightEditor.js';

/** A canary's versions: configured and observed share, Take over per version, match rules, the weight slider. */
export function CanaryVersions({ release, ask }: { release: Release; ask: (a: ReleaseAction) => void }) {
  const { t } = useTranslation();
  const canChange = useCan('releases:write');
  const share = configuredShare(release);
  return (
    <>
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
          {releaseVersions(release).map((v) => {
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
                    onClick={() => ask({ kind: 'takeover', version: v })}
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
      {release.traffic?.match && (
        <Stack gap={4} mt="sm">
          <Text size="sm">{t('detail.matchRules', { candidate: release.candidate.name })}</Text>
          <Code block>{toYaml(release.traffic?.match)}</Code>
        </Stack>
      )}
      {release.traffic?.weights && !release.traffic?.rules && <WeightEditor release={release} />}
    </>
  );
}
