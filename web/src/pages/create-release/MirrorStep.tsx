import { Alert, Card, Group, NumberInput, Slider, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { SentPreview } from './SentPreview.js';
import type { StepProps } from './step-props.js';

const asInt = (v: string | number) => (typeof v === 'number' ? v : Number.parseInt(v, 10));

/** Mirroring's last step: the share of requests copied, and what the comparison looks at. */
export function MirrorStep({ draft, patch, error }: StepProps) {
  const { t } = useTranslation();
  const fieldError = (key: string) => (error === key ? t(key) : undefined);
  return (
    <Stack mt="md">
      <Text size="sm" maw={760}>
        {t('wizard.mirror.explain', { baseline: draft.baseline, candidate: draft.candidate })}
      </Text>
      <Card withBorder maw={760}>
        <Text fw={600} size="sm" mb="xs">
          {t('wizard.mirror.percent')}
        </Text>
        <Group align="flex-end" wrap="nowrap">
          <Slider
            style={{ flex: 1 }}
            mb={6}
            value={Number.isFinite(draft.mirrorPercent) ? draft.mirrorPercent : 0}
            onChange={(v) => patch({ mirrorPercent: v })}
            min={1}
            max={100}
            marks={[{ value: 1 }, { value: 25 }, { value: 50 }, { value: 75 }, { value: 100 }]}
            label={(v) => `${v}%`}
            thumbLabel={t('wizard.mirror.percent')}
          />
          <NumberInput
            w={120}
            aria-label={t('wizard.mirror.percent')}
            value={draft.mirrorPercent}
            onChange={(v) => patch({ mirrorPercent: asInt(v) })}
            min={1}
            max={100}
            suffix=" %"
            allowDecimal={false}
            error={fieldError('wizard.mirror.percentRange')}
            data-test="mirror-percent"
          />
        </Group>
        <Text size="xs" c="dimmed" mt="xs">
          {t('wizard.mirror.percentHint', { candidate: draft.candidate })}
        </Text>
      </Card>
      <Card withBorder maw={760}>
        <Stack gap="sm">
          <Text fw={600} size="sm">
            {t('wizard.mirror.compare')}
          </Text>
          <Switch
            checked={draft.compareBody}
            onChange={(e) => patch({ compareBody: e.currentTarget.checked })}
            label={t('wizard.mirror.compareBody')}
            description={t('wizard.mirror.compareBodyHint')}
            data-test="mirror-compare-body"
          />
          <TextInput
            label={t('wizard.mirror.compareHeaders')}
            description={t('wizard.mirror.compareHeadersHint')}
            placeholder="content-type"
            value={draft.compareHeaders}
            onChange={(e) => patch({ compareHeaders: e.currentTarget.value })}
            error={fieldError('wizard.mirror.badCompareHeader')}
            data-test="mirror-compare-headers"
          />
          <TextInput
            label={t('wizard.mirror.ignoreHeaders')}
            description={t('wizard.mirror.ignoreHeadersHint')}
            placeholder="date, x-request-id"
            value={draft.ignoreHeaders}
            onChange={(e) => patch({ ignoreHeaders: e.currentTarget.value })}
            error={fieldError('wizard.mirror.badHeader')}
            data-test="mirror-ignore-headers"
          />
          <TextInput
            label={t('wizard.mirror.ignoreJsonPaths')}
            description={t('wizard.mirror.ignoreJsonPathsHint')}
            placeholder="$.timestamp, $.items[*].id"
            value={draft.ignoreJsonPaths}
            onChange={(e) => patch({ ignoreJsonPaths: e.currentTarget.value })}
            error={fieldError('wizard.mirror.badJsonPath')}
            disabled={!draft.compareBody}
            data-test="mirror-ignore-json"
          />
          <NumberInput
            label={t('wizard.mirror.maxBody')}
            description={t('wizard.mirror.maxBodyHint')}
            value={draft.maxBodyKiB}
            onChange={(v) => patch({ maxBodyKiB: asInt(v) })}
            min={1}
            max={1024}
            suffix=" KiB"
            allowDecimal={false}
            w={260}
            error={fieldError('wizard.mirror.maxBodyRange')}
            data-test="mirror-max-body"
          />
        </Stack>
      </Card>
      {error && (
        <Alert color="red" variant="light" maw={760} data-test="step-error">
          {t(error)}
        </Alert>
      )}
      <SentPreview draft={draft} />
    </Stack>
  );
}
