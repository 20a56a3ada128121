import { Card, List, Stack, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { SentPreview } from './SentPreview.js';
import type { StepProps } from './step-props.js';

/** Blue-green's last step has nothing to choose: it says what will happen. */
export function BlueGreenStep({ draft }: StepProps) {
  const { t } = useTranslation();
  const v = { baseline: draft.baseline, candidate: draft.candidate, header: 'x-canary-preview' };
  return (
    <Stack mt="md" maw={760}>
      <Card withBorder data-test="blue-green-plan">
        <Text fw={600} mb="xs">
          {t('wizard.blueGreen.title')}
        </Text>
        <List type="ordered" spacing="xs" size="sm">
          <List.Item>{t('wizard.blueGreen.start', v)}</List.Item>
          <List.Item>{t('wizard.blueGreen.preview', v)}</List.Item>
          <List.Item>{t('wizard.blueGreen.switch', v)}</List.Item>
          <List.Item>{t('wizard.blueGreen.finish', v)}</List.Item>
        </List>
      </Card>
      <SentPreview draft={draft} />
    </Stack>
  );
}
