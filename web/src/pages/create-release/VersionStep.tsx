import { ActionIcon, Alert, Button, Group, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { Service } from '../../api/types.js';
import { useCan, useWhoAmI } from '../../api/whoami.js';
import type { StepProps } from './step-props.js';

export function VersionStep({ draft, patch, service, error }: StepProps & { service: Service | undefined }) {
  const { t } = useTranslation();
  const baseline = service?.versions.find((v) => v.name === draft.baseline);
  const kind = baseline?.workload.kind ?? 'process';
  const baselineProcess = baseline?.workload.kind === 'process' ? baseline.workload : undefined;
  const existing = service?.versions.some((v) => v.name === draft.candidate);
  // What a new version runs (command, args, env) is an admin's call; an operator may release a copy or an image.
  const me = useWhoAmI();
  const workloadAdmin = useCan('services:write');
  const setEnv = (i: number, p: { key?: string; value?: string }) =>
    patch({ env: draft.env.map((e, j) => (j === i ? { ...e, ...p } : e)) });
  return (
    <Stack maw={640} mt="md">
      <TextInput
        label={t('wizard.version')}
        description={t('wizard.versionHint')}
        value={draft.candidate}
        onChange={(e) => {
          const candidate = e.currentTarget.value;
          // Keep SERVICE_VERSION in step with the version name while the user has not changed it.
          const env = draft.env.map((p) => (p.key === 'SERVICE_VERSION' && p.value === draft.candidate ? { ...p, value: candidate } : p));
          patch({ candidate, env });
        }}
        error={error && error !== 'wizard.needAddresses' && error !== 'wizard.envKeyMissing' ? t(error) : undefined}
        data-test="release-version"
      />
      {existing ? (
        <Alert color="blue" variant="light">
          {t('wizard.existingVersion', { version: draft.candidate })}
        </Alert>
      ) : (
        <>
          <Text size="sm" c="dimmed">
            {t('wizard.inherits', { baseline: draft.baseline, kind: t(`workload.${kind}`) })}
          </Text>
          {me.data && !workloadAdmin && (
            <Alert color="yellow" variant="light" data-test="workload-admin-only">
              {t('access.workloadAdminOnly', { role: me.data.role })}
            </Alert>
          )}
          {kind === 'kubernetes' && (
            <TextInput
              label={t('wizard.image')}
              description={t('wizard.imageHint')}
              placeholder="kubesphere/examples-bookinfo-reviews-v2:1.16.2"
              value={draft.image}
              onChange={(e) => patch({ image: e.currentTarget.value })}
              data-test="release-image"
            />
          )}
          {kind === 'endpoints' && (
            <TextInput
              label={t('wizard.addresses')}
              description={t('wizard.addressesHint')}
              placeholder="127.0.0.1:9082"
              value={draft.addresses}
              onChange={(e) => patch({ addresses: e.currentTarget.value })}
              error={error === 'wizard.needAddresses' ? t(error) : undefined}
              data-test="release-addresses"
            />
          )}
          {kind === 'process' && (
            <SimpleGrid cols={2}>
              <TextInput
                label={t('wizard.command')}
                description={t('wizard.commandHint')}
                placeholder={baselineProcess?.command}
                value={draft.command}
                onChange={(e) => patch({ command: e.currentTarget.value })}
                data-test="release-command"
              />
              <TextInput
                label={t('wizard.args')}
                description={t('wizard.argsHint')}
                placeholder={baselineProcess?.args.join(' ')}
                value={draft.args}
                onChange={(e) => patch({ args: e.currentTarget.value })}
                data-test="release-args"
              />
            </SimpleGrid>
          )}
          {kind !== 'endpoints' && (
            <Stack gap="xs">
              <Text size="sm" fw={500}>
                {t('wizard.env')}
              </Text>
              <Text size="xs" c="dimmed">
                {t('wizard.envHint')}
              </Text>
              {draft.env.map((p, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their position
                <Group key={i} gap="xs" wrap="nowrap" data-test="env-row">
                  <TextInput
                    aria-label={t('wizard.envName')}
                    placeholder={t('wizard.envName')}
                    value={p.key}
                    onChange={(e) => setEnv(i, { key: e.currentTarget.value })}
                    style={{ flex: 1 }}
                    data-test="env-key"
                  />
                  <TextInput
                    aria-label={t('wizard.envValue')}
                    placeholder={t('wizard.envValue')}
                    value={p.value}
                    onChange={(e) => setEnv(i, { value: e.currentTarget.value })}
                    style={{ flex: 1 }}
                    data-test="env-value"
                  />
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={t('wizard.remove')}
                    onClick={() => patch({ env: draft.env.filter((_, j) => j !== i) })}
                  >
                    ×
                  </ActionIcon>
                </Group>
              ))}
              {error === 'wizard.envKeyMissing' && (
                <Text size="xs" c="red">
                  {t(error)}
                </Text>
              )}
              <Button
                variant="light"
                size="xs"
                w="fit-content"
                onClick={() => patch({ env: [...draft.env, { key: '', value: '' }] })}
                data-test="env-add"
              >
                {t('wizard.addEnv')}
              </Button>
            </Stack>
          )}
        </>
      )}
    </Stack>
  );
}
