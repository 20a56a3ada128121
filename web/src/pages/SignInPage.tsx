import { Alert, Button, Center, Code, Group, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, checkToken } from '../api/client.js';
import { writeToken } from '../api/token-store.js';
import { LanguageSwitch } from '../components/LanguageSwitch.js';

export function SignInPage() {
  const { t } = useTranslation();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const handleSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) {
      setError(t('signIn.empty'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await checkToken(value);
      writeToken(value);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? t('signIn.rejected')
          : err instanceof ApiError && err.status === 403
            ? t('signIn.proxyToken')
            : err instanceof Error
              ? err.message
              : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" bg="gray.0" p="md">
      <Paper withBorder shadow="sm" p="xl" w={460} radius="md" component="main">
        <form onSubmit={handleSubmit}>
          <Stack>
            <Group justify="space-between">
              <Title order={1} size="h3">
                Canary Mesh
              </Title>
              <LanguageSwitch />
            </Group>
            <Text size="sm" c="dimmed">
              {t('signIn.intro')}
            </Text>
            <PasswordInput
              label={t('signIn.tokenLabel')}
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              autoFocus
              data-test="token-input"
            />
            <Text size="xs" c="dimmed">
              {t('signIn.whereBefore')} <Code>.canary/admin-token</Code> {t('signIn.whereAfter')} <Code>CANARY_ADMIN_TOKEN</Code>.
            </Text>
            {error && (
              <Alert color="red" variant="light" data-test="sign-in-error">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy} data-test="sign-in">
              {t('signIn.submit')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
