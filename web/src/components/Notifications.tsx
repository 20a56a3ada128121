import { Notification, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { dismissToast, useToasts } from './notifications.js';

export function Notifications() {
  const toasts = useToasts();
  const { t } = useTranslation();
  return (
    <Stack gap="xs" pos="fixed" bottom={16} right={16} w={420} style={{ zIndex: 1000 }} aria-live="polite">
      {toasts.map((n) => (
        <Notification
          key={n.id}
          color={n.color}
          title={n.title}
          withBorder
          onClose={() => dismissToast(n.id)}
          closeButtonProps={{ 'aria-label': t('common.close') }}
          data-test={n.color === 'red' ? 'error-toast' : 'toast'}
        >
          <Text size="sm" c="var(--mantine-color-text)">
            {n.message}
          </Text>
          {n.details.map((d) => (
            <Text size="xs" c="var(--mantine-color-text)" key={d}>
              {d}
            </Text>
          ))}
        </Notification>
      ))}
    </Stack>
  );
}
