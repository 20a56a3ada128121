import { Alert, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.js';

/** Shows a failed query in place: the API's own message, and a hint when the endpoint does not exist yet. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  const { t } = useTranslation();
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const message = api ? api.message : error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" variant="light" title={title ?? t('errors.title')} data-test="error-alert">
      <Text size="sm">{message}</Text>
      {api?.details.map((d) => (
        <Text size="xs" key={`${d.path ?? ''}${d.message}`}>
          {d.path ? `${d.path}: ` : ''}
          {d.message}
        </Text>
      ))}
      {api?.status === 404 && (
        <Text size="xs" c="dimmed" mt={4}>
          {t('errors.notAvailable')}
        </Text>
      )}
    </Alert>
  );
}
