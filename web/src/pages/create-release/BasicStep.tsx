import { Stack, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { StepProps } from './step-props.js';

export function BasicStep({ draft, patch, error }: StepProps) {
  const { t } = useTranslation();
  return (
    <Stack maw={520} mt="md">
      <TextInput
        label={t('wizard.name')}
        description={t('wizard.nameHint')}
        placeholder={`reviews-${draft.mode === 'blueGreen' ? 'blue-green' : draft.mode}`}
        value={draft.name}
        onChange={(e) => patch({ name: e.currentTarget.value })}
        error={error ? t(error) : undefined}
        data-test="release-name"
        autoFocus
      />
    </Stack>
  );
}
