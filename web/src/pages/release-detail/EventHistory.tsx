import { Loader, Text, Timeline } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useReleaseEvents } from '../../api/releases.js';
import type { MeshEvent } from '../../api/types.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

export function EventHistory({ name }: { name: string }) {
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
