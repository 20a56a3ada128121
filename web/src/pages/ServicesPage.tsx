import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Drawer,
  Group,
  Loader,
  ScrollArea,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { useIstioManifests, useService, useServiceRoutes, useServices, useVersionLogs } from '../api/services.js';
import type { Service, Version } from '../api/types.js';
import { EmptyState } from '../components/EmptyState.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { toYaml } from '../components/to-yaml.js';
import { YamlView } from '../components/YamlView.js';

export function ServicesPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const services = useServices();
  const selected = params.get('service');
  const select = (name: string) => setParams({ service: name });

  return (
    <Stack>
      <div>
        <Title order={2}>{t('services.title')}</Title>
        <Text c="dimmed" size="sm">
          {t('services.subtitle')}
        </Text>
      </div>
      <ErrorAlert error={services.error} />
      {services.isLoading && <Loader size="sm" aria-label={t('common.loading')} />}
      {services.data && services.data.length === 0 && (
        <EmptyState title={t('services.emptyTitle')} hint={t('services.emptyHint')} test="services-empty" />
      )}
      {services.data && services.data.length > 0 && (
        <Card withBorder padding={0}>
          <Table highlightOnHover verticalSpacing="sm" horizontalSpacing="md">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('services.name')}</Table.Th>
                <Table.Th>{t('services.port')}</Table.Th>
                <Table.Th>{t('services.versions')}</Table.Th>
                <Table.Th>{t('services.ingress')}</Table.Th>
                <Table.Th>{t('services.instances')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {services.data.map((s) => (
                <Table.Tr
                  key={s.name}
                  data-test="service-row"
                  data-service={s.name}
                  onClick={() => select(s.name)}
                  style={{ cursor: 'pointer' }}
                  bg={s.name === selected ? 'var(--mantine-color-indigo-light)' : undefined}
                >
                  <Table.Td>
                    <Button variant="transparent" p={0} size="compact-sm" onClick={() => select(s.name)} data-test="service-open">
                      {s.name}
                    </Button>
                  </Table.Td>
                  <Table.Td>{s.port}</Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {s.versions.map((v) => (
                        <Badge key={v.name} variant="light" color="gray" tt="none">
                          {v.name}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    {s.ingress?.paths?.length ? (
                      <Code>{s.ingress.paths.join(', ')}</Code>
                    ) : (
                      <Text size="sm" c="dimmed">
                        —
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <InstanceSummary service={s} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      {!selected && services.data && services.data.length > 0 && (
        <Text size="sm" c="dimmed">
          {t('services.pickHint')}
        </Text>
      )}
      {selected && <ServiceDetail name={selected} />}
    </Stack>
  );
}

function InstanceSummary({ service }: { service: Service }) {
  const { t } = useTranslation();
  const all = service.versions.flatMap((v) => v.instances ?? []);
  if (all.length === 0)
    return (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  const ready = all.filter((i) => i.ready).length;
  return (
    <Badge color={ready === all.length ? 'teal' : 'orange'} variant="light" tt="none">
      {t('services.readyOf', { ready, total: all.length })}
    </Badge>
  );
}

function ServiceDetail({ name }: { name: string }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const service = useService(name);
  const tab = params.get('tab') ?? 'versions';
  const logs = params.get('logs');
  const update = (patch: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) next.delete(k);
      else next.set(k, v);
    }
    setParams(next);
  };

  return (
    <Card withBorder data-test="service-detail">
      <Group justify="space-between" mb="sm">
        <Title order={3}>{name}</Title>
      </Group>
      <ErrorAlert error={service.error} />
      <Tabs value={tab} onChange={(v) => update({ tab: v })}>
        <Tabs.List>
          <Tabs.Tab value="versions" data-test="tab-versions">
            {t('services.tabVersions')}
          </Tabs.Tab>
          <Tabs.Tab value="routes" data-test="tab-routes">
            {t('services.tabRoutes')}
          </Tabs.Tab>
          <Tabs.Tab value="istio" data-test="tab-istio">
            {t('services.tabIstio')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="versions" pt="md">
          <Stack>
            {service.data?.versions.map((v) => (
              <VersionCard key={v.name} version={v} onLogs={() => update({ logs: v.name })} />
            ))}
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="routes" pt="md">
          {tab === 'routes' && <RoutesYaml service={name} />}
        </Tabs.Panel>
        <Tabs.Panel value="istio" pt="md">
          {tab === 'istio' && <IstioYaml service={name} />}
        </Tabs.Panel>
      </Tabs>
      <Drawer
        opened={!!logs}
        onClose={() => update({ logs: null })}
        position="right"
        size="xl"
        title={t('services.logsTitle', { service: name, version: logs ?? '' })}
        closeButtonProps={{ 'aria-label': t('common.close') }}
      >
        {logs && <LogView service={name} version={logs} />}
      </Drawer>
    </Card>
  );
}

export function InstancesTable({ version }: { version: Version }) {
  const { t } = useTranslation();
  const instances = version.instances ?? [];
  if (instances.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        {t('services.noInstances')}
      </Text>
    );
  }
  return (
    <Table withTableBorder verticalSpacing={6} data-test="instances">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t('services.instance')}</Table.Th>
          <Table.Th>{t('services.address')}</Table.Th>
          <Table.Th>{t('services.pid')}</Table.Th>
          <Table.Th>{t('services.state')}</Table.Th>
          <Table.Th>{t('services.ready')}</Table.Th>
          <Table.Th>{t('services.restarts')}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {instances.map((i) => (
          <Table.Tr key={i.name} data-test="instance-row">
            <Table.Td>
              <Code>{i.name}</Code>
            </Table.Td>
            <Table.Td>{i.address}</Table.Td>
            <Table.Td>{i.pid ?? '—'}</Table.Td>
            <Table.Td>
              <Group gap={6} wrap="nowrap">
                {i.state}
                {i.ejectedUntil && (
                  // Ready, yet out of load balancing: the proxies saw consecutive errors (outlier detection).
                  <Tooltip label={t('services.ejectedUntil', { time: new Date(i.ejectedUntil).toLocaleTimeString() })}>
                    <Badge color="red" variant="light" data-test="instance-ejected">
                      {t('services.ejected')}
                    </Badge>
                  </Tooltip>
                )}
              </Group>
            </Table.Td>
            <Table.Td>
              <Badge color={i.ready ? 'teal' : 'orange'} variant="light">
                {i.ready ? t('services.yes') : t('services.no')}
              </Badge>
            </Table.Td>
            <Table.Td>{i.restarts}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function VersionCard({ version, onLogs }: { version: Version; onLogs: () => void }) {
  const { t } = useTranslation();
  const w = version.workload;
  const health = version.health;
  return (
    <Card withBorder padding="md" data-test="version-card" data-version={version.name}>
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <Title order={4}>{version.name}</Title>
          <Badge variant="outline" color="gray" tt="none">
            {t(`workload.${w.kind}`)}
          </Badge>
          {health && (
            <Badge color={health.failed ? 'red' : health.ready ? 'teal' : 'orange'} variant="light">
              {health.failed ? t('services.failed') : health.ready ? t('services.healthy') : t('services.starting')}
            </Badge>
          )}
        </Group>
        {w.kind === 'process' && (
          <Button size="xs" variant="light" onClick={onLogs} data-test="open-logs">
            {t('services.logs')}
          </Button>
        )}
      </Group>
      {health?.reason && (
        <Text size="sm" c={health.failed ? 'red.9' : 'dimmed'} mb="xs">
          {health.reason}
        </Text>
      )}
      <Text size="xs" c="dimmed" mb="xs">
        {w.kind === 'process' && <Code>{[w.command, ...(w.args ?? [])].join(' ')}</Code>}
        {w.kind === 'endpoints' && <Code>{(w.addresses ?? []).join(', ')}</Code>}
        {w.kind === 'kubernetes' && <Code>{w.image}</Code>}
      </Text>
      <InstancesTable version={version} />
    </Card>
  );
}

function RoutesYaml({ service }: { service: string }) {
  const { t } = useTranslation();
  const routes = useServiceRoutes(service);
  if (routes.error) return <ErrorAlert error={routes.error} />;
  if (!routes.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  const { effective, release } = routes.data;
  return (
    <Stack gap="xs">
      {release && (
        <Alert color="blue" variant="light" data-test="routes-owned">
          {t('services.routesOwned', { release })}
        </Alert>
      )}
      {effective.length === 0 ? (
        <EmptyState title={t('services.noRoutesTitle')} hint={t('services.noRoutesHint')} />
      ) : (
        <YamlView yaml={toYaml({ rules: effective })} fileName={`${service}-routes.yaml`} test="routes-yaml" />
      )}
    </Stack>
  );
}

function IstioYaml({ service }: { service: string }) {
  const { t } = useTranslation();
  const yaml = useIstioManifests(service);
  if (yaml.error) return <ErrorAlert error={yaml.error} />;
  if (yaml.data === undefined) return <Loader size="sm" aria-label={t('common.loading')} />;
  return <YamlView yaml={yaml.data} fileName={`${service}-istio.yaml`} test="istio-yaml" />;
}

function LogView({ service, version }: { service: string; version: string }) {
  const { t } = useTranslation();
  const logs = useVersionLogs(service, version);
  if (logs.error) return <ErrorAlert error={logs.error} />;
  if (!logs.data) return <Loader size="sm" aria-label={t('common.loading')} />;
  if (logs.data.length === 0) return <Text c="dimmed">{t('services.noLogs')}</Text>;
  return (
    <ScrollArea h="calc(100vh - 120px)" data-test="logs">
      <Code block style={{ fontSize: 11, whiteSpace: 'pre-wrap' }}>
        {logs.data.map((l) => `${l.at.slice(11, 23)} ${l.instance} ${l.stream === 'stderr' ? '!' : ' '} ${l.line}`).join('\n')}
      </Code>
    </ScrollArea>
  );
}
